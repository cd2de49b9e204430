"""lib/hosts/http11.py: the service's HTTP/1.1 protocol, spoken to over raw sockets on a real server.

What h11 lets through and the app can't answer is refused in the contract's
error shape; a request's headers and body are timed; connections are bounded,
and the ones that wait on their client make room first.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import httpx
import pytest

from tests.service import Service

TIMEOUT = 0.5  # HEADER_TIMEOUT_SECONDS and BODY_TIMEOUT_SECONDS here
MAX_BODY_BYTES = 65536


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    env = {"HEADER_TIMEOUT_SECONDS": str(TIMEOUT), "BODY_TIMEOUT_SECONDS": str(TIMEOUT), "LOG_LEVEL": "INFO"}
    with Service(env, log_path=folder / "service.log") as started:
        yield started


def exchange(port: int, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send `data` and read what comes back until the server closes the connection (or `wait` runs out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        return read_to_close(sock)


def read_to_close(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return received


def answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


def assert_refused(raw: bytes, status: int, code: str) -> dict:
    """The contract's error shape from the server itself, and the connection closed."""
    got, headers, body = answer(raw)
    assert got == status, raw[:300]
    error = json.loads(body)
    assert set(error) == {"error", "request_id"} and error["error"]["code"] == code and error["error"]["message"]
    assert error["request_id"] == headers["x-request-id"] and headers["connection"] == "close"
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
    return error


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /openapi.json HTTP/1.2\r\nHost: x\r\n\r\n",
        b"GET /openapi.json HTTP/2.0\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # HTTP/2's connection preface
        b"GET /openapi.json HTTP/0.9\r\n\r\n",
        b"GET /openapi.json HTTP/9.9\r\nHost: x\r\n\r\n",
    ],
)
def test_an_http_version_other_than_1_0_and_1_1_gets_505_in_the_error_shape(service, request_bytes):
    error = assert_refused(exchange(service.port, request_bytes), 505, "http_version_not_supported")
    assert "HTTP/1.1" in error["error"]["message"]


def test_a_refusal_keeps_the_request_id_it_was_given(service):
    raw = exchange(service.port, b"GET /openapi.json HTTP/1.2\r\nHost: x\r\nX-Request-ID: refused-42\r\n\r\n")
    assert assert_refused(raw, 505, "http_version_not_supported")["request_id"] == "refused-42"


def test_http_1_0_is_served(service):
    assert answer(exchange(service.port, b"GET /openapi.json HTTP/1.0\r\n\r\n"))[0] == 200


@pytest.mark.parametrize("scheme", [b"http", b"HTTPS"])
def test_an_absolute_form_target_is_served_as_its_path(service, scheme):
    target = scheme + b"://127.0.0.1:%d/openapi.json" % service.port
    status, headers, body = answer(exchange(service.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert status == 200 and json.loads(body)["openapi"].startswith("3.1")
    bare = answer(exchange(service.port, b"GET http://127.0.0.1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert bare[0] == 200 and b"<" in bare[2]  # the chat page, at /


@pytest.mark.parametrize("target", [b"health", b"*", b"127.0.0.1:443", b"ftp://127.0.0.1/health"])
def test_a_target_that_is_no_path_gets_400(service, target):
    raw = exchange(service.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert "starts with /" in assert_refused(raw, 400, "invalid_request")["error"]["message"]


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        (b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "invalid_request"),
        (b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1_000_000 + b"\r\n\r\n", 431, "headers_too_large"),
        (b"POST /v1/query HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
        (b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400, "invalid_request"),
    ],
)
def test_what_h11_refuses_is_said_in_the_error_shape(service, request_bytes, status, code):
    assert_refused(exchange(service.port, request_bytes), status, code)


def test_expect_100_continue_with_a_body_over_the_limit_gets_413_at_once_and_no_100(service):
    head = (
        b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: 10000000\r\n\r\n"
    )
    started = time.monotonic()
    raw = exchange(service.port, head)
    assert b"100 Continue" not in raw and time.monotonic() - started < TIMEOUT
    assert_refused(raw, 413, "payload_too_large")


def test_expect_100_continue_within_the_limit_gets_100_then_the_answer(service):
    body = b'{"query": ""}'
    head = (
        b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        status, _, answered = answer(read_to_close(sock))
    assert status == 400 and json.loads(answered)["error"]["field"] == "query"


def test_a_declared_body_that_never_comes_gets_408_after_the_body_timeout(service):
    head = b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"answer"
    started = time.monotonic()
    raw = exchange(service.port, head, wait=10)
    waited = time.monotonic() - started
    assert "body" in assert_refused(raw, 408, "request_timeout")["error"]["message"]
    assert TIMEOUT <= waited < 10


def test_half_sent_headers_get_408_after_the_header_timeout(service):
    raw = exchange(service.port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Half: ", wait=10)
    assert "headers" in assert_refused(raw, 408, "request_timeout")["error"]["message"]


def test_headers_sent_a_byte_at_a_time_still_have_one_header_timeout_in_all(service):
    request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"s" * 400 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        started = time.monotonic()
        for byte in request:  # 400 bytes, 80 a second: five seconds in all, were they all sent
            if select.select([sock], [], [], TIMEOUT / 40)[0]:
                break
            sock.sendall(bytes([byte]))
        answered = time.monotonic() - started
        raw = read_to_close(sock)
    assert_refused(raw, 408, "request_timeout")
    assert TIMEOUT <= answered < 4 * TIMEOUT


def test_nothing_the_server_refused_left_an_error_or_a_traceback_in_the_log(service):
    def own_lines() -> list[dict]:
        # The server's own lines: an in-process service's log also gets what other tests' leftovers say.
        lines = [json.loads(line) for line in service.log().splitlines() if line.strip()]
        return [line for line in lines if line["logger"] in ("uvicorn.error", "bookbot", "bookbot.access")]

    before = len(own_lines())
    exchange(service.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    own = own_lines()
    assert not [line for line in own if line["level"] == "ERROR" or "traceback" in line]
    # the refusal's own line, whatever the leftovers of earlier tests logged after it
    assert [line for line in own[before:] if {"status": 505, "refused_by": "http"}.items() <= line.items()]


def test_a_keep_alive_connection_serves_one_request_after_another(service):
    with httpx.Client(base_url=service.url, timeout=5) as http:
        answers = [http.get("/openapi.json").status_code for _ in range(3)]
        time.sleep(3 * TIMEOUT)  # idle between requests: the keep-alive timeout, not the header timeout
        answers.append(http.get("/openapi.json").status_code)
    assert answers == [200] * 4


@pytest.fixture
def crowded(tmp_path):
    """A server that may hold four connections, with headers given all the time they want."""
    env = {"MAX_CONNECTIONS": "4", "HEADER_TIMEOUT_SECONDS": "60", "BODY_TIMEOUT_SECONDS": "60"}
    with Service(env, log_path=tmp_path / "service.log") as started:
        yield started


def test_past_max_connections_the_connection_waiting_longest_makes_room(crowded):
    half_sent = []
    for n in range(6):
        sock = socket.create_connection(("127.0.0.1", crowded.port), timeout=5)
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Half-%d: " % n)
        half_sent.append(sock)
        time.sleep(0.05)  # one after the other: "longest" is well defined
    try:
        served = httpx.get(crowded.url + "/openapi.json", timeout=5)
        assert served.status_code == 200
        closed = []
        for sock in half_sent:
            sock.settimeout(0.5)
            try:
                closed.append(sock.recv(100) == b"")
            except socket.timeout:
                closed.append(False)
            except ConnectionResetError:
                closed.append(True)
    finally:
        for sock in half_sent:
            sock.close()
    assert closed == [True, True, True, False, False, False]
    assert crowded.log().count("connections at MAX_CONNECTIONS (4)") == 1  # once a minute, not once a connection


def test_past_max_connections_with_every_one_busy_a_new_one_gets_503(tmp_path, fake_openai):
    fake_openai.token_delay = 0.2
    env = {"MAX_CONNECTIONS": "2", "OPENAI_BASE_URL": fake_openai.base_url, "RATE_LIMIT_PER_MINUTE": "0"}
    with Service(env, log_path=tmp_path / "service.log") as started:
        opened = threading.Barrier(3)
        finished = []

        def stream():
            body = {"query": "What does the service answer from?", "selected_text": "Bookbot answers from the book.", "stream": True}
            with httpx.stream("POST", started.url + "/v1/query", json=body, timeout=30) as response:
                opened.wait(10)
                finished.append(response.read() and response.status_code)

        readers = [threading.Thread(target=stream) for _ in range(2)]
        for reader in readers:
            reader.start()
        opened.wait(10)
        raw = exchange(started.port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        for reader in readers:
            reader.join(30)
    error = assert_refused(raw, 503, "unavailable")
    assert answer(raw)[1]["retry-after"] == "1" and "busy" in error["error"]["message"]
    assert finished == [200, 200]
