"""The Falcon ASGI host: resources that put handlers behind HTTP, the pool's lifespan, CORS, one error handler."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence

import falcon
import falcon.asgi

from lib import errors, logs, metrics, monitoring
from lib.config import ConfigError
from lib.hosts import Pool
from lib.hosts.messages import (
    Incoming,
    Reply,
    Route,
    dispatch,
    error_reply,
    request_id_from,
)
from lib.ratelimit import client_address

log = logging.getLogger("bookbot")

_BODY_METHODS = ("POST", "PUT", "PATCH")
_DRAIN_AT_MOST = 1 << 20
_DRAIN_CHUNK = 64 * 1024
_STATUS_ERRORS = {
    400: errors.InvalidRequest,
    404: errors.NotFound,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:\d{1,5})?|https?://\[[0-9a-f:.]+\](:\d{1,5})?")
PING_SECONDS = 1.0
# What a page on another origin may read of a response, beyond the CORS-safelisted headers.
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


class Lifespan:
    """Middleware that opens the pool at ASGI startup and closes it at shutdown."""

    def __init__(self, pool: Pool):
        self._pool = pool

    async def process_startup(self, scope, event) -> None:
        await self._pool.open()

    async def process_shutdown(self, scope, event) -> None:
        await self._pool.close()


class RequestContext:
    """Middleware: a request id on every request and response, one access log line each, and its metrics.

    A stream's line is written when the stream ends, so that it tells the
    whole latency and what the reply added on the way (the model's tokens).
    """

    def __init__(self, pool: Pool | None = None):
        self._pool = pool  # whose metrics count the requests

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.request_id = request_id_from(req.get_header("X-Request-ID"))
        req.context.started = time.perf_counter()
        req.context.log = {}

    async def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", req.context.request_id)
        fields = {
            "request_id": req.context.request_id,
            "method": req.method,
            "route": req.uri_template or req.path[:200],
            "status": resp.status_code,
        }
        # A file of a static folder has no template either; only a route's template or a fixed word is a label.
        route = req.uri_template or (metrics.STATIC if resp.status_code < 400 else metrics.UNMATCHED)
        # A test may lend a pool that holds nothing but configuration.
        counted = getattr(self._pool.clients, "metrics", None) if self._pool is not None else None
        if resp.sse is None:
            seconds = time.perf_counter() - req.context.started
            logs.access({**fields, "latency_ms": round(seconds * 1000, 2), **req.context.log})
            if counted is not None:
                counted.request(route, req.method, resp.status_code, seconds)
        else:
            count = partial(counted.request, route) if counted is not None else None
            resp.sse = _logged_when_done(resp.sse, fields, req.context, count)


async def _logged_when_done(events: AsyncIterator, fields: dict, context, count: Callable | None) -> AsyncIterator:
    last = None
    try:
        async for event in events:
            last = event.event if event is not None else last  # None is a ping
            yield event
    finally:
        seconds = time.perf_counter() - context.started
        # `last` is "done" or "error" for a stream that ended; anything else, the reader left first.
        logs.access({**fields, "latency_ms": round(seconds * 1000, 2), "stream_end": last, **context.log})
        if count is not None:
            count(fields["method"], fields["status"], seconds)


class Resource:
    """One path's handlers, by method."""

    def __init__(self, routes: Sequence[Route], pool: Pool):
        self._pool = pool
        for route in routes:
            setattr(self, f"on_{route.method.lower()}", partial(self._serve, route))

    async def _serve(self, route: Route, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        clients = self._pool.clients
        try:
            params = _single_params(req)
            body = await _read_body(req, clients.config.max_body_bytes) if req.method in _BODY_METHODS else b""
        except errors.ApiError as error:
            reply = error_reply(error, req.context.request_id)
        else:
            incoming = Incoming(
                method=req.method,
                path=req.path,
                request_id=req.context.request_id,
                params=params,
                headers={name.lower(): value for name, value in req.headers.items()},
                body=body,
                client=client_address(_peer(req), req.get_header("X-Forwarded-For"), clients.config.trusted_proxies),
            )
            reply = await dispatch(route, incoming, clients)
        req.context.log = reply.log
        write(reply, resp, req.context.request_id)


def _peer(req: falcon.asgi.Request) -> str | None:
    """The socket's peer, as the ASGI server saw it; never a header."""
    client = req.scope.get("client")
    return client[0] if client else None


def _single_params(req: falcon.asgi.Request) -> dict[str, str]:
    """The query string's parameters; one given twice is refused, as a JSON key given twice is."""
    for name, value in req.params.items():
        if isinstance(value, list):
            raise errors.InvalidRequest(f"the parameter {name[:100]!r} is given more than once", field=name[:100])
    return dict(req.params)


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


def adapt(routes: Sequence[Route], pool: Pool) -> dict[str, Resource]:
    """One resource per path, to mount with `app.add_route(path, resource)`."""
    by_path = sorted(routes, key=lambda route: route.path)
    return {path: Resource(list(group), pool) for path, group in groupby(by_path, key=lambda route: route.path)}


def write(reply: Reply, resp: falcon.asgi.Response, request_id: str | None = None) -> None:
    resp.status = reply.status
    for name, value in reply.headers.items():
        resp.set_header(name, value)
    if reply.events is not None:
        # Falcon's own SSE support watches for the client going away and stops iterating.
        resp.sse = _server_sent(reply.events, request_id)
    elif isinstance(reply.body, bytes):
        resp.data = reply.body
    elif reply.body is not None:
        # JSON, even when an error replaces a reply that had begun as another type (a page whose file is gone).
        resp.content_type = falcon.MEDIA_JSON
        resp.media = reply.body


async def _server_sent(events: AsyncIterator[tuple[str, Any]], request_id: str | None) -> AsyncIterator:
    """The handler's events as SSE; a bug in the middle of a stream ends it with an error event, not a cut.

    The handler runs in a task of its own, so that while it is silent (the model thinking) a ping
    comment can go out every PING_SECONDS: Falcon notices a reader who has gone only when it sends
    something, and then stops here, which cancels the handler and with it the call to the model.
    """
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)  # the handler runs at most one event ahead of the reader

    async def produce() -> None:
        try:
            async for item in events:
                await queue.put(item)
        except Exception as error:
            log.exception("unhandled error in a stream (request %s)", request_id)
            monitoring.report_error(error, request_id=request_id)
            await queue.put(("error", errors.Internal().body(request_id or "")))
        await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), PING_SECONDS)
            except asyncio.TimeoutError:
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
    """The one error handler: Falcon's own errors and unexpected ones in the contract's shape."""
    request_id = getattr(req.context, "request_id", None) or request_id_from(None)
    if isinstance(error, errors.ApiError):
        api_error = error
    elif isinstance(error, falcon.HTTPMethodNotAllowed):
        allowed = [method.strip() for method in (error.headers or {}).get("Allow", "").split(",") if method.strip()]
        api_error = errors.MethodNotAllowed(f"{req.method[:20]} is not allowed on {req.path[:200]}", allowed)
    elif isinstance(error, falcon.HTTPNotFound):
        api_error = errors.NotFound(f"no route for {req.path[:200]}")
    elif isinstance(error, falcon.HTTPError) and error.status_code in _STATUS_ERRORS:
        api_error = _STATUS_ERRORS[error.status_code](error.description or error.title)
    else:
        log.error("unhandled error on %s %s (request %s)", req.method, req.path[:200], request_id, exc_info=error)
        route = req.uri_template or req.path[:200]
        monitoring.report_error(error, request_id=request_id, method=req.method[:20], route=route)
        api_error = errors.Internal()
    write(error_reply(api_error, request_id), resp)


def cors(allowed_origins: Sequence[str]) -> list:
    """The CORS middleware for ALLOWED_ORIGINS: none when empty; `*` only when it is written alone.

    An origin is a scheme, a host and maybe a port, exactly as a browser sends
    it in the Origin header: `https://book.example.org`, no path, no slash.
    """
    if not allowed_origins:
        return []
    if "*" in allowed_origins:
        if len(allowed_origins) > 1:
            raise ConfigError("ALLOWED_ORIGINS must be * alone or a list of origins, not both")
        return [_Cors(allow_origins="*", expose_headers=list(EXPOSED_HEADERS))]
    origins = []
    for origin in allowed_origins:
        normalised = origin.rstrip("/").lower()
        if not _ORIGIN.fullmatch(normalised):
            raise ConfigError(f"ALLOWED_ORIGINS has {origin!r}, which is not an origin such as https://book.example.org")
        origins.append(normalised)
    return [_Cors(allow_origins=origins, expose_headers=list(EXPOSED_HEADERS))]


class _Cors(falcon.CORSMiddleware):
    """Falcon's CORS policy, plus `Vary: Origin` so that no cache hands one origin's answer to another."""

    async def process_response_async(self, req, resp, resource, req_succeeded: bool) -> None:
        self.process_response(req, resp, resource, req_succeeded)
        if self.allow_origins != "*":
            resp.append_header("Vary", "Origin")


class Fixed:
    """A resource that serves one document: a JSON value, a text, or a file read when asked for."""

    def __init__(self, content: str | dict | Path, content_type: str = falcon.MEDIA_HTML, headers: dict | None = None):
        self._content = content
        self._content_type = content_type
        self._headers = dict(headers or {})

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.set_headers(self._headers)
        if isinstance(self._content, dict):
            resp.media = self._content
            return
        resp.content_type = self._content_type
        if isinstance(self._content, Path):
            resp.data = self._content.read_bytes()
            resp.cache_control = ["no-cache"]
        else:
            resp.text = self._content
