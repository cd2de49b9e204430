"""What the hardening tests check again and again: the error shape, a state reached in time, a process's memory."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import httpx

T = TypeVar("T")


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    """The contract's one error shape, with the request id it was given, and never a trace."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code, body
    assert set(body["error"]) <= {"code", "message", "field"} and isinstance(body["error"]["message"], str)
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    if field is not None:
        assert body["error"].get("field") == field, body
    return body


def eventually(probe: Callable[[], T], until: Callable[[T], bool], *, timeout: float = 10.0, every: float = 0.2) -> T:
    """Call probe until its result satisfies `until`, for at most `timeout` seconds; the last result either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if until(result) or time.monotonic() > deadline:
            return result
        time.sleep(every)


def rss_kib(pid: int) -> int:
    """The resident memory of a process, in KiB, as the kernel counts it."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def events(text: str) -> list[tuple[str, str]]:
    """The (event, data) pairs of a text/event-stream body."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], lines.get("data", "")))
    return found
