"""lib/hosts/serve.py: the one serve step, through both hosts alike (Falcon in process, and AWS Lambda events).

Each test sends the same request to both hosts and expects the same answer:
the route table, HEAD and OPTIONS, 405 and 404, keys, the body limit, the
request id and the one error shape are the serve step's, not a host's.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from types import SimpleNamespace

import falcon.testing
import pytest
from attrs import frozen

from lib.config import Config
from lib.guards import Guards
from lib.hosts import Pool, aws_lambda, falcon_host, pages
from lib.hosts.messages import Reply, Route
from lib.metrics import Metrics

KEY = "serve-test-key-0123"


async def _answer(request, clients) -> Reply:
    return Reply(body={"answer": 42})


def _routes(folder) -> list[Route]:
    (folder / "page.css").write_text("body { color: black }")
    return [
        Route("POST", "/answer", lambda incoming: incoming.json(), _answer, needs_key=True),
        Route("GET", "/answer", lambda incoming: None, _answer),
        *pages.folder("/assets", folder),
    ]


@frozen
class Answered:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def _clients(**config) -> SimpleNamespace:
    config = Config(**config)
    return SimpleNamespace(config=config, metrics=Metrics(), guards=Guards.from_config(config))


@pytest.fixture(params=["falcon", "lambda"])
def send(request, tmp_path):
    """send(method, path, body=None, headers=None) -> Answered, through one host or the other."""
    routes = _routes(tmp_path)
    pool = Pool(clients=_clients(api_keys=(KEY,), max_body_bytes=1024))
    if request.param == "falcon":
        client = falcon.testing.TestClient(falcon_host.app(routes, pool))

        def through_falcon(method, path, body=None, headers=None):
            result = client.simulate_request(method, path, body=body, headers=headers or {})
            return Answered(result.status_code, {k.lower(): v for k, v in result.headers.items()}, result.content)

        return through_falcon
    handler = aws_lambda.adapt(routes, pool)

    def through_lambda(method, path, body=None, headers=None):
        binary = isinstance(body, bytes)  # API Gateway hands a binary body over in base64
        event = {
            "rawPath": path,
            "headers": headers or {},
            "requestContext": {"http": {"method": method, "path": path, "sourceIp": "192.0.2.1"}},
            "body": base64.b64encode(body).decode() if binary else body,
            "isBase64Encoded": binary,
        }
        answer = handler(event, None)
        headers = {k.lower(): v for k, v in answer["headers"].items()}
        return Answered(answer["statusCode"], headers, answer["body"].encode())

    return through_lambda


def assert_error(answered: Answered, status: int, code: str) -> dict:
    assert answered.status == status, answered.body
    body = answered.json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code
    assert body["request_id"] == answered.headers["x-request-id"]
    return body


def test_head_answers_wherever_get_does_with_no_body(send):
    got, head = send("GET", "/answer"), send("HEAD", "/answer")
    assert got.status == head.status == 200 and got.json() == {"answer": 42}
    assert head.body == b""
    asset = send("HEAD", "/assets/page.css")
    assert asset.status == 200 and asset.body == b"" and asset.headers["content-type"].startswith("text/css")


def test_options_says_what_a_path_allows(send):
    answered = send("OPTIONS", "/answer")
    assert answered.status == 200 and answered.headers["allow"] == "GET, HEAD, OPTIONS, POST"


@pytest.mark.parametrize("method", ["DELETE", "PUT", "TRACE", "POST"])
def test_a_static_file_takes_get_and_head_only(send, method):
    answered = send(method, "/assets/page.css")
    assert_error(answered, 405, "method_not_allowed")
    assert answered.headers["allow"] == "GET, HEAD, OPTIONS"


def test_unknown_paths_and_words_that_are_no_method(send):
    assert_error(send("GET", "/nowhere"), 404, "not_found")
    assert_error(send("GET", "/assets/missing.css"), 404, "not_found")
    assert_error(send("BREW", "/answer"), 400, "invalid_request")


def test_a_route_behind_a_key_says_how_to_present_one(send):
    answered = send("POST", "/answer", body='{"q": 1}', headers={"Content-Type": "application/json"})
    assert_error(answered, 401, "unauthorized")
    assert answered.headers["www-authenticate"] == "Bearer"
    keyed = send("POST", "/answer", body='{"q": 1}', headers={"Content-Type": "application/json", "X-API-Key": KEY})
    assert keyed.status == 200


def test_a_body_over_the_limit_is_refused(send):
    headers = {"Content-Type": "application/json", "X-API-Key": KEY}
    assert_error(send("POST", "/answer", body='{"q": "' + "x" * 2000 + '"}', headers=headers), 413, "payload_too_large")


def test_a_parameter_given_twice_is_refused_by_name(tmp_path):
    """Falcon hands a repeated parameter over as a list; API Gateway joins them, so this is Falcon's alone."""
    client = falcon.testing.TestClient(falcon_host.app(_routes(tmp_path), Pool(clients=_clients())))
    result = client.simulate_get("/answer", query_string="a=1&a=2")
    assert result.status_code == 400 and result.json["error"]["field"] == "a"


def test_keeps_a_well_formed_request_id(send):
    assert send("GET", "/answer", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


JSON_AND_KEY = {"Content-Type": "application/json", "X-API-Key": KEY}


@pytest.mark.parametrize(
    "encoding, body",
    [
        ("gzip", gzip.compress(b'{"q": 1}', mtime=0)),
        ("GZIP", gzip.compress(b'{"q": ', mtime=0) + gzip.compress(b"1}", mtime=0)),  # two members, one after the other
        ("deflate", zlib.compress(b'{"q": 1}')),
        ("deflate", zlib.compress(b'{"q": 1}')[2:-4]),  # raw deflate, as some clients send it
        ("identity", b'{"q": 1}'),
    ],
)
def test_a_compressed_body_is_read_as_it_was_before_compression(send, encoding, body):
    assert send("POST", "/answer", body=body, headers={**JSON_AND_KEY, "Content-Encoding": encoding}).status == 200


def test_a_body_that_inflates_past_the_limit_is_refused_without_inflating_the_rest(send):
    bomb = gzip.compress(b'{"q": "' + b"0" * 10_000_000 + b'"}')  # 10 MB in about 10 KB: over the 1 KiB limit
    small_bomb = gzip.compress(b'{"q": "' + b"0" * 200_000 + b'"}')  # 200 KB in a few hundred bytes
    assert len(small_bomb) < 1024
    for body in (bomb, small_bomb):
        answered = send("POST", "/answer", body=body, headers={**JSON_AND_KEY, "Content-Encoding": "gzip"})
        assert_error(answered, 413, "payload_too_large")


@pytest.mark.parametrize("body", [b'{"q": 1}', gzip.compress(b'{"q": 1}', mtime=0)[:-4], gzip.compress(b'{"q": 1}', mtime=0) + b"junk"])
def test_a_body_that_is_not_what_its_content_encoding_says_is_a_bad_request(send, body):
    answered = send("POST", "/answer", body=body, headers={**JSON_AND_KEY, "Content-Encoding": "gzip"})
    assert "gzip" in assert_error(answered, 400, "invalid_request")["error"]["message"]


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, gzip"])
def test_a_content_encoding_the_service_does_not_read_is_415_saying_which_it_reads(send, encoding):
    body = gzip.compress(gzip.compress(b'{"q": 1}'))
    answered = send("POST", "/answer", body=body, headers={**JSON_AND_KEY, "Content-Encoding": encoding})
    assert_error(answered, 415, "unsupported_media_type")
    assert answered.headers["accept-encoding"] == "gzip, deflate"
