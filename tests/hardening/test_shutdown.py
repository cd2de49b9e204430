"""SIGTERM: the service stops taking requests, lets a stream in flight finish, closes the pool and exits 0."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx

from tests.hardening.checks import events

WORDS = 12
TOKEN_DELAY = 0.12  # seconds between the model's words: the stream takes about a second and a half


def test_a_stream_in_flight_finishes_after_sigterm_and_the_process_exits_0(serve, fake_openai):
    fake_openai.reply = " ".join(["Chunks"] * (WORDS - 1) + ["[1]."])
    fake_openai.token_delay = TOKEN_DELAY
    service = serve({"OPENAI_BASE_URL": fake_openai.base_url, "SHUTDOWN_GRACE_SECONDS": "10"}, process=True)
    received: list[str] = []
    first_event = threading.Event()

    def read_stream():
        body = {"query": "How many tokens does a chunk have by default?", "stream": True}
        with httpx.stream("POST", service.url + "/v1/query", json=body, timeout=30) as response:
            for line in response.iter_lines():
                received.append(line)
                first_event.set()

    reader = threading.Thread(target=read_stream)
    started = time.monotonic()
    reader.start()
    assert first_event.wait(10)
    service.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    time.sleep(0.3)
    try:  # no new request is taken once shutting down
        refused = httpx.get(service.url + "/health", timeout=2).status_code
    except httpx.TransportError as error:
        refused = type(error).__name__
    reader.join(20)
    code = service.process.wait(20)
    exited = time.monotonic()

    sent = events("\n".join(received) + "\n\n")
    names = [name for name, _ in sent]
    assert names[0] == "sources" and names[-1] == "done" and names.count("delta") >= WORDS - 1
    assert json.loads(sent[-1][1])["mode"] == "rag"
    assert code == 0 and refused != 200
    log = service.log()
    assert "Application shutdown complete" in log and '"stream_end": "done"' in log
    print(
        f"shutdown: stream finished {exited - signalled:.1f} s after SIGTERM (it ran {exited - started:.1f} s in all);"
        f" a new request meanwhile got {refused}; exit code {code}"
    )


def test_what_outlasts_the_grace_ends_with_an_error_event_or_a_503_and_no_traceback(serve, fake_openai):
    """SHUTDOWN_GRACE_SECONDS=1 and two streams of six seconds, and a plain answer the model takes ten seconds
    to give: each reader is told that the server is restarting, in the contract's shape, before the process exits."""
    fake_openai.reply = " ".join(["Chunks"] * 60 + ["[1]."])
    fake_openai.token_delay = 0.1
    service = serve({"OPENAI_BASE_URL": fake_openai.base_url, "SHUTDOWN_GRACE_SECONDS": "1"}, process=True)
    streams: dict[int, list[str]] = {}
    plain: list[httpx.Response] = []
    streaming = threading.Barrier(3)

    def read_stream(n: int) -> None:
        body = {"query": f"How many tokens does a chunk have by default? ({n})", "stream": True}
        with httpx.stream("POST", service.url + "/v1/query", json=body, timeout=30) as response:
            lines = streams.setdefault(n, [])
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("event: delta") and lines.count(line) == 1:
                    streaming.wait(10)

    def ask_plainly() -> None:
        plain.append(httpx.post(service.url + "/v1/query", json={"query": "What is the default chunk overlap?"}, timeout=30))

    readers = [threading.Thread(target=read_stream, args=(n,)) for n in range(2)]
    for reader in readers:
        reader.start()
    streaming.wait(10)
    fake_openai.latency = {"chat/completions": 10.0}
    asker = threading.Thread(target=ask_plainly)
    asker.start()
    time.sleep(0.5)  # the plain question is with the model
    service.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    for thread in (*readers, asker):
        thread.join(20)
    code = service.process.wait(20)
    exited = time.monotonic() - signalled

    for lines in streams.values():
        sent = events("\n".join(lines) + "\n\n")
        assert [name for name, _ in sent][-1] == "error" and "done" not in [name for name, _ in sent]
        error = json.loads(sent[-1][1])
        assert error["error"]["code"] == "unavailable" and error["request_id"]
    [answered] = plain
    assert answered.status_code == 503 and answered.json()["error"]["code"] == "unavailable"
    assert answered.headers["Retry-After"] and answered.json()["request_id"] == answered.headers["X-Request-ID"]
    assert code == 0 and exited < 5
    log = service.log()
    assert "Traceback" not in log and "CancelledError" not in log and '"level": "ERROR"' not in log
    assert log.count('"stream_end": "error"') == 2 and '"status": 503' in log
    print(f"shutdown: two streams and a plain answer cut {exited:.1f} s after SIGTERM, each told so; exit code {code}")
