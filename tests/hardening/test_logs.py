"""One JSON line per request with what the reply adds; LOG_LEVEL honoured; tracebacks in the log, never in a reply."""

from __future__ import annotations

import json
import logging

import falcon
import falcon.asgi
import falcon.testing
import httpx
import pytest

from lib.config import Config
from lib.hosts import Pool, falcon_host
from lib.http import Reply, Route
from tests.hardening.checks import events

KEY = "log-test-key-123456"


class Clients:
    """A pool with nothing in it but configuration: these routes need no dependency."""

    def __init__(self, config: Config):
        self.config = config


async def cached_answer(request, clients) -> Reply:
    return Reply(body={"answer": "42"}, log={"cached": True, "prompt_tokens": 12, "completion_tokens": 3})


async def streamed_answer(request, clients) -> Reply:
    fields: dict = {}

    async def stream():
        yield "delta", {"text": "forty"}
        fields.update(prompt_tokens=20, completion_tokens=2)  # known only once the model is done
        yield "done", {"id": "ans_1"}

    return Reply(events=stream(), log=fields)


async def buggy(request, clients) -> Reply:
    raise RuntimeError("password=hunter2 in /srv/app/secret.py")


async def buggy_stream(request, clients) -> Reply:
    async def stream():
        yield "delta", {"text": "so far so good"}
        raise KeyError("internal detail")

    return Reply(events=stream())


def app_of(*routes: Route) -> falcon.testing.TestClient:
    pool = Pool(clients=Clients(Config(api_keys=(KEY,))))
    app = falcon.asgi.App(middleware=[falcon_host.Lifespan(pool), falcon_host.RequestContext()])
    for path, resource in falcon_host.adapt(routes, pool).items():
        app.add_route(path, resource)
    app.add_error_handler(Exception, falcon_host.handle_error)
    app.add_error_handler(falcon.HTTPError, falcon_host.handle_error)
    return falcon.testing.TestClient(app)


def access_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "bookbot.access"]


def test_a_reply_carries_its_log_fields_to_the_one_access_line(caplog):
    client = app_of(Route("GET", "/answer", lambda incoming: None, cached_answer, needs_key=True))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/answer", headers={"X-API-Key": KEY, "X-Request-ID": "req-42"})
    assert result.status_code == 200
    [line] = access_lines(caplog)
    assert (line.request_id, line.route, line.status, line.cached, line.prompt_tokens) == ("req-42", "/answer", 200, True, 12)
    assert line.latency_ms >= 0 and len(line.key_id) == 12 and KEY not in json.dumps(line.__dict__, default=str)


def test_a_stream_is_logged_when_it_ends_with_what_it_learnt_on_the_way(caplog):
    client = app_of(Route("GET", "/stream", lambda incoming: None, streamed_answer))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/stream")
    assert [name for name, _ in events(result.text)] == ["delta", "done"]
    [line] = access_lines(caplog)
    assert (line.stream_end, line.prompt_tokens, line.completion_tokens) == ("done", 20, 2)


def test_a_bug_answers_500_saying_nothing_and_only_the_log_has_the_trace(caplog):
    client = app_of(Route("GET", "/buggy", lambda incoming: None, buggy))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/buggy")
    assert result.status_code == 500 and result.json["error"]["code"] == "internal"
    assert "hunter2" not in result.text and "secret.py" not in result.text and "Traceback" not in result.text
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert error.exc_info and "hunter2" in str(error.exc_info[1])
    assert result.json["request_id"] in error.getMessage()


def test_a_bug_in_the_middle_of_a_stream_ends_it_with_an_error_event_not_a_cut(caplog):
    client = app_of(Route("GET", "/buggy-stream", lambda incoming: None, buggy_stream))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/buggy-stream")
    sent = events(result.text)
    assert [name for name, _ in sent] == ["delta", "error"]
    assert json.loads(sent[-1][1])["error"]["code"] == "internal" and "internal detail" not in result.text
    assert any(record.exc_info for record in caplog.records if record.levelno == logging.ERROR)
    assert access_lines(caplog)[-1].stream_end == "error"


def test_every_line_is_json_and_log_level_is_honoured(serve, openai_server):
    openai_server.reset()
    quiet = serve({"LOG_LEVEL": "WARNING", "OPENAI_BASE_URL": openai_server.base_url})
    openai_server.fail_next(500, times=2, path="chat/completions")
    with httpx.Client(base_url=quiet.url, timeout=30) as http:
        assert http.post("/v1/query", json={"query": "What is the default chunk size?"}).json()["mode"] == "extractive"
        http.get("/health")
    lines = [json.loads(line) for line in quiet.log().splitlines() if line.strip()]
    assert lines and all(line["level"] in ("WARNING", "ERROR", "CRITICAL") for line in lines)
    assert any("language model failed" in line["message"] for line in lines)
    assert not any(line["logger"] == "bookbot.access" for line in lines)


@pytest.mark.parametrize("level", ["INFO"])
def test_at_info_each_request_has_one_line_with_its_fields(serve, level):
    service = serve({"LOG_LEVEL": level})
    with httpx.Client(base_url=service.url, timeout=30) as http:
        http.post("/v1/query", json={"query": "What is the default chunk size?"}, headers={"X-Request-ID": "one-line-check"})
    lines = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    [line] = [line for line in lines if line.get("request_id") == "one-line-check"]
    assert line["logger"] == "bookbot.access" and line["route"] == "/v1/query" and line["status"] == 200
    assert isinstance(line["latency_ms"], float) and line["method"] == "POST"
