"""The Falcon ASGI host: every request translated into the shared serve step, the reply written back.

Falcon reads the request (body limits included) and writes the reply (server-sent
events with pings); the pool opens at ASGI startup and closes at shutdown;
CORS is Falcon's middleware. Routing, keys, limits, errors and the access log
are lib.hosts.serve's, as for every host.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, AsyncIterator, Sequence

import falcon
import falcon.asgi

from lib import errors, monitoring
from lib.hosts import DRAINING_STATE, SHUTTING_DOWN, Draining, Pool
from lib.hosts.messages import Received, Reply, Route, error_reply, request_id_from
from lib.hosts.serve import Routes, serve

log = logging.getLogger("bookbot")

_DRAIN_AT_MOST = 1 << 20
_DRAIN_CHUNK = 64 * 1024
PING_SECONDS = 1.0
# What a page on another origin may read of a response, beyond the CORS-safelisted headers.
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def app(routes: Sequence[Route], pool: Pool, *, allowed_origins: Sequence[str] = ()) -> falcon.asgi.App:
    """An ASGI app serving the routes, with the pool opened at startup and CORS for `allowed_origins`."""
    served = falcon.asgi.App(middleware=[_Lifespan(pool), *cors(allowed_origins)])
    served.add_sink(partial(_serve, Routes(routes), pool), prefix="/")
    served.add_error_handler(Exception, handle_error)
    return served


class _Lifespan:
    """Middleware that opens the pool at ASGI startup and closes it at shutdown, and gives the server a Draining
    (in the lifespan state, which every request's scope shares) to tell it when the shutdown began."""

    def __init__(self, pool: Pool):
        self._pool = pool

    async def process_startup(self, scope, event) -> None:
        if "state" in scope:
            scope["state"][DRAINING_STATE] = Draining()
        await self._pool.open()

    async def process_shutdown(self, scope, event) -> None:
        await self._pool.close()


async def _serve(routes: Routes, pool: Pool, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_) -> None:
    client = req.scope.get("client")
    draining = req.scope.get("state", {}).get(DRAINING_STATE)
    received = Received(
        method=req.method,
        path=req.path,
        params=req.params,
        headers=_headers(req),
        peer=client[0] if client else None,  # the socket's peer, as the ASGI server saw it
        read_body=partial(_read_body, req),
        draining=draining,
    )
    _write(await serve(routes, pool, received), resp, draining)


def _headers(req: falcon.asgi.Request) -> dict[str, str]:
    """The request's headers by lower-case name; one given twice is one value, the two joined by a comma, as HTTP
    reads a list (Falcon keeps only the last Content-Type, and the serve step could not refuse the two).

    From the server's own list when it gives one, as uvicorn does; else (an iterator, already read) as Falcon has them.
    """
    raw = req.scope.get("headers")
    if not isinstance(raw, (list, tuple)):
        return dict(req.headers)
    headers: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


async def _read_body(req: falcon.asgi.Request, limit: int) -> bytes:
    """The body, refused without being kept when it is over the limit (with or without Content-Length)."""
    too_large = errors.PayloadTooLarge(f"the body must be at most {limit} bytes")
    if req.content_length is not None and req.content_length > limit:
        if req.content_length <= _DRAIN_AT_MOST:
            await _drain(req)
        raise too_large
    body = await req.stream.read(limit + 1)
    if len(body) > limit:
        await _drain(req)
        raise too_large
    if req.content_length is not None and len(body) < req.content_length:
        # The connection closed before the body ended: the server's body timeout, or the client gone.
        raise errors.RequestTimeout("the body did not arrive in full")
    return body


async def _drain(req: falcon.asgi.Request) -> None:
    """Read and drop the rest of a refused body, up to _DRAIN_AT_MOST.

    A client still sending when the server closes the connection often gets a
    reset instead of the 413; a body this small is cheaper to read than that.
    Beyond it, the connection is closed on the client.
    """
    dropped = 0
    while dropped < _DRAIN_AT_MOST:
        chunk = await req.stream.read(_DRAIN_CHUNK)
        if not chunk:
            return
        dropped += len(chunk)


def _write(reply: Reply, resp: falcon.asgi.Response, draining: Draining | None = None) -> None:
    resp.status = reply.status
    for name, value in reply.headers.items():
        resp.set_header(name, value)
    if reply.events is not None:
        # Falcon's own SSE support watches for the client going away and stops iterating.
        resp.sse = _server_sent(reply.events, draining, reply.headers.get("X-Request-ID", ""))
    elif isinstance(reply.body, bytes):
        resp.data = reply.body
    elif reply.body is not None:
        resp.content_type = falcon.MEDIA_JSON
        resp.media = reply.body


async def _server_sent(events: AsyncIterator[tuple[str, Any]], draining: Draining | None = None, request_id: str = "") -> AsyncIterator:
    """The events as Falcon sends them, with a ping comment every PING_SECONDS while the handler is silent.

    The handler runs in a task of its own, so that while it is silent (the model
    thinking) a ping can go out: Falcon notices a reader who has gone only when it
    sends something, and then stops here, which cancels the handler and with it
    the call to the model. A stream still going at a shutdown's deadline ends
    here too, with an `error` event that tells the reader to ask again.
    """
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)  # the handler runs at most one event ahead of the reader
    loop = asyncio.get_running_loop()

    async def produce() -> None:
        try:
            async for item in events:
                await queue.put(item)
            await queue.put(None)
        finally:
            await events.aclose()  # its access line is written now, however it was stopped

    producer = asyncio.create_task(produce())
    try:
        while True:
            wait = PING_SECONDS
            if draining is not None and draining.deadline is not None:
                wait = max(0.0, min(wait, draining.deadline - loop.time()))
            try:
                item = await asyncio.wait_for(queue.get(), wait)
            except asyncio.TimeoutError:
                if draining is not None and draining.over():
                    yield falcon.asgi.SSEvent(event="error", json=errors.Unavailable(SHUTTING_DOWN).body(request_id))
                    return
                yield None  # Falcon sends an empty event as a ": ping" comment
                continue
            if item is None:
                return
            event, data = item
            yield falcon.asgi.SSEvent(event=event, json=data)
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)


async def handle_error(req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params) -> None:
    """What the serve step could not answer, a bug of the host itself, as a 500 in the contract's shape."""
    request_id = request_id_from(req.get_header("X-Request-ID"))
    log.error("unhandled error on %s %s (request %s)", req.method, req.path[:200], request_id, exc_info=error)
    monitoring.report_error(error, request_id=request_id, method=req.method[:20], route=req.path[:200])
    reply = error_reply(errors.Internal(), request_id)
    _write(Reply(body=reply.body, status=reply.status, headers={**reply.headers, "X-Request-ID": request_id}), resp)


def cors(allowed_origins: Sequence[str]) -> list:
    """The CORS middleware for ALLOWED_ORIGINS, as the configuration checked them: none when empty."""
    if not allowed_origins:
        return []
    return [_Cors(allow_origins="*" if "*" in allowed_origins else list(allowed_origins), expose_headers=list(EXPOSED_HEADERS))]


class _Cors(falcon.CORSMiddleware):
    """Falcon's CORS policy, plus `Vary: Origin` so that no cache hands one origin's answer to another."""

    async def process_response_async(self, req, resp, resource, req_succeeded: bool) -> None:
        self.process_response(req, resp, resource, req_succeeded)
        if self.allow_origins != "*":
            resp.append_header("Vary", "Origin")
