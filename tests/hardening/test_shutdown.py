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
