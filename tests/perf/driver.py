"""The load driver: many keep-alive HTTP/1.1 connections from one process, every request timed.

    python -m tests.perf.driver < spec.json > result.json

It runs in a process of its own, so that the server it measures has its own
interpreter and event loop. A raw asyncio protocol rather than an HTTP client
library: the driver must be cheaper per request than the cheapest server it
drives, or it would measure itself.

The spec (JSON): `url` (http://host:port), `method`, `path`, `headers`,
`body` (text; every `{n}` in it becomes a number no other request of the
run has), `connections`, `warmup` and `duration` (seconds), `timeout`
(seconds; a slower request is an error), `max_requests` (a bound on the
count), `stream` (read a chunked text/event-stream and time its first
event), `once` (a burst: every connection sends one request, all at once,
and the run ends when the last is answered, however long that takes),
`retry_after` (after a 429 or 503 with Retry-After, wait that long before
the next request, as the widget tells its reader to). Each connection sends
its next request once the last is answered.

The result: requests completed within the measured window and their rate
(for a burst: the wall time until the last answer, `wall_ms`);
p50 and p99 of every request started in it, however late it finished; errors
by kind; for streams, the time to the first event; the driver's own CPU use
(near 1.0 means the driver, not the server, may be the limit).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import sys
import time
from collections import Counter
from urllib.parse import urlsplit


class _Failed(Exception):
    """Raised when a connection breaks or a response can't be read."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `send` returns a future of (status, seconds to the first body bytes)."""

    def __init__(self, stream: bool):
        self._stream = stream
        self._buffer = bytearray()
        self._future: asyncio.Future | None = None
        self._sent = 0.0
        self._first = None
        self._header_end = -1
        self._status = 0
        self.retry_after = 0.0
        self._length = -1
        self._chunked = False
        self._chunk_at = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self._future is not None and not self._future.done():
            self._future.set_exception(_Failed("connection closed"))

    def send(self, request: bytes) -> asyncio.Future:
        self._future = asyncio.get_running_loop().create_future()
        self._buffer.clear()
        self._header_end = -1
        self._first = None
        self._sent = time.perf_counter()
        self.transport.write(request)
        return self._future

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._future is None or self._future.done():
            return
        try:
            done = self._parse()
        except Exception as error:  # a response we can't read is an error of that request
            self._future.set_exception(_Failed(f"bad response: {error}"))
            self.transport.close()
            return
        if done:
            self._future.set_result((self._status, self._first))

    def _parse(self) -> bool:
        buffer = self._buffer
        if self._header_end < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            self._header_end = end + 4
            head = bytes(buffer[:end]).lower()
            self._status = int(head[9:12])
            at = head.find(b"retry-after:")
            self.retry_after = float(head[at + 12 :].split(b"\r\n", 1)[0]) if at >= 0 else 0.0
            self._length, self._chunked = -1, b"transfer-encoding: chunked" in head
            if not self._chunked:
                at = head.find(b"content-length:")
                self._length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            self.reusable = b"connection: close" not in head
            self._chunk_at = self._header_end
        if not self._chunked:
            if len(buffer) - self._header_end >= self._length:
                if self._first is None:
                    self._first = time.perf_counter() - self._sent
                return True
            return False
        while True:  # chunked: walk the chunks that have arrived
            line_end = buffer.find(b"\r\n", self._chunk_at)
            if line_end < 0:
                return False
            size = int(bytes(buffer[self._chunk_at : line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return False
            if size and self._first is None:
                self._first = time.perf_counter() - self._sent
            self._chunk_at = line_end + 2 + size + 2
            if size == 0:
                return True


def _request_maker(spec: dict, host: str):
    method, path = spec.get("method", "GET"), spec.get("path", "/")
    headers = {"Host": host, **spec.get("headers", {})}
    body = spec.get("body")
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if body is None:
        fixed = (head + "\r\n").encode()
        return lambda n: fixed
    if "{n}" not in body:
        data = body.encode()
        fixed = (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        return lambda n: fixed

    def make(n: int) -> bytes:
        data = body.replace("{n}", str(n)).encode()
        return (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data

    return make


async def run(spec: dict) -> dict:
    """Drive the server as the spec says and measure; see the module's docstring."""
    url = urlsplit(spec["url"])
    host, port = url.hostname, url.port or 80
    connections = int(spec.get("connections", 16))
    warmup, duration = float(spec.get("warmup", 1.0)), float(spec.get("duration", 5.0))
    timeout = float(spec.get("timeout", 10.0))
    max_requests = int(spec.get("max_requests", 1_000_000))
    stream = bool(spec.get("stream", False))
    once = bool(spec.get("once", False))
    polite = bool(spec.get("retry_after", False))
    if once:  # every request counts, and the window lasts as long as the slowest answer
        warmup, duration, max_requests = 0.0, timeout + 1.0, connections
    make = _request_maker(spec, f"{host}:{port}")
    loop = asyncio.get_running_loop()
    numbers = itertools.count(int(spec.get("first_number", 0)))
    latencies: list[float] = []
    firsts: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    completed_in_window = 0
    sent = 0
    begin = time.perf_counter()
    window_start, window_end = begin + warmup, begin + warmup + duration
    cpu_start = None

    async def connect() -> _Connection:
        _, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(stream), host, port), timeout
        )
        return protocol

    last_answer = begin

    async def client(index: int) -> None:
        nonlocal completed_in_window, sent, last_answer
        # Spread the first connections over a few milliseconds, as a crowd arrives, not one instant.
        await asyncio.sleep(0 if once else index * 0.0005)
        connection = None
        while time.perf_counter() < window_end and sent < max_requests:
            sent += 1
            try:
                if connection is None or connection.closed or not connection.reusable:
                    if connection is not None:
                        connection.transport.close()
                    connection = await connect()
                started = time.perf_counter()
                status, first = await asyncio.wait_for(connection.send(make(next(numbers))), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                kind = "timeout"
            except (_Failed, OSError) as error:
                kind = type(error).__name__ if isinstance(error, OSError) else str(error)
            else:
                finished = time.perf_counter()
                last_answer = max(last_answer, finished)
                counted = started >= window_start
                if counted:
                    statuses[status] += 1
                    if 200 <= status < 300:
                        latencies.append(finished - started)
                        if first is not None:
                            firsts.append(first)
                    else:
                        errors[f"http {status}"] += 1
                if window_start <= finished <= window_end and 200 <= status < 300:
                    completed_in_window += 1
                if once:
                    break
                if polite and status in (429, 503) and connection.retry_after:
                    await asyncio.sleep(min(connection.retry_after, max(0.0, window_end - time.perf_counter())))
                continue
            if time.perf_counter() >= window_start:
                errors[kind] += 1
            if connection is not None:
                connection.transport.close()
                connection = None
            if once:
                break
        if connection is not None:
            connection.transport.close()

    async def mark_window() -> None:
        nonlocal cpu_start
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        cpu_start = sum(os.times()[:2])

    marker = asyncio.create_task(mark_window())
    await asyncio.gather(*(client(index) for index in range(connections)))
    await marker
    elapsed = (last_answer - begin) if once else min(time.perf_counter(), window_end) - window_start
    cpu = (sum(os.times()[:2]) - cpu_start) / max(elapsed, 1e-9) if cpu_start is not None else None
    return {
        "connections": connections,
        "window_seconds": round(elapsed, 3),
        "requests": completed_in_window,
        "rps": round(completed_in_window / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
        "first_event_p50_ms": _percentile(firsts, 50) if stream else None,
        "first_event_p99_ms": _percentile(firsts, 99) if stream else None,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "statuses": {str(status): count for status, count in statuses.items()},
        "sent": sent,
        "driver_cpu": round(cpu, 2) if cpu is not None else None,
        "wall_ms": round((last_answer - begin) * 1000, 1) if once else None,
    }


def _percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))  # nearest rank
    return round(ordered[rank - 1] * 1000, 2)


def main() -> None:
    spec = json.load(sys.stdin)
    try:
        import uvloop  # the driver takes the faster loop when there is one: it must not be the limit
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
