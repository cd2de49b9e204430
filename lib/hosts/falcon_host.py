"""The Falcon ASGI host: resources that put handlers behind HTTP, the pool's lifespan, one error handler."""

from __future__ import annotations

import logging
import time
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Sequence

import falcon
import falcon.asgi

from lib import errors
from lib.hosts import Pool
from lib.http import Incoming, Reply, Route, dispatch, error_reply, request_id_from

log = logging.getLogger("bookbot")
access_log = logging.getLogger("bookbot.access")

_BODY_METHODS = ("POST", "PUT", "PATCH")
_STATUS_ERRORS = {
    400: errors.InvalidRequest,
    404: errors.NotFound,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


class Lifespan:
    """Middleware that opens the pool at ASGI startup and closes it at shutdown."""

    def __init__(self, pool: Pool):
        self._pool = pool

    async def process_startup(self, scope, event) -> None:
        await self._pool.open()

    async def process_shutdown(self, scope, event) -> None:
        await self._pool.close()


class RequestContext:
    """Middleware: a request id on every request and response, and one access log line each."""

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.request_id = request_id_from(req.get_header("X-Request-ID"))
        req.context.started = time.perf_counter()

    async def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", req.context.request_id)
        access_log.info(
            "request",
            extra={
                "request_id": req.context.request_id,
                "method": req.method,
                "route": req.uri_template or req.path,
                "status": resp.status_code if hasattr(resp, "status_code") else resp.status,
                "latency_ms": round((time.perf_counter() - req.context.started) * 1000, 2),
            },
        )


class Resource:
    """One path's handlers, by method."""

    def __init__(self, routes: Sequence[Route], pool: Pool):
        self._pool = pool
        for route in routes:
            setattr(self, f"on_{route.method.lower()}", partial(self._serve, route))

    async def _serve(self, route: Route, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        clients = self._pool.clients
        try:
            body = await _read_body(req, clients.config.max_body_bytes) if req.method in _BODY_METHODS else b""
        except errors.ApiError as error:
            reply = error_reply(error, req.context.request_id)
        else:
            incoming = Incoming(
                method=req.method,
                path=req.path,
                request_id=req.context.request_id,
                params=dict(req.params),
                headers={name.lower(): value for name, value in req.headers.items()},
                body=body,
                client=req.remote_addr,
            )
            reply = await dispatch(route, incoming, clients)
        write(reply, resp)


async def _read_body(req: falcon.asgi.Request, limit: int) -> bytes:
    """The body, refused before it is read whole when it is over the limit."""
    too_large = errors.PayloadTooLarge(f"the body must be at most {limit} bytes")
    if req.content_length is not None and req.content_length > limit:
        raise too_large
    body = await req.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def adapt(routes: Sequence[Route], pool: Pool) -> dict[str, Resource]:
    """One resource per path, to mount with `app.add_route(path, resource)`."""
    by_path = sorted(routes, key=lambda route: route.path)
    return {path: Resource(list(group), pool) for path, group in groupby(by_path, key=lambda route: route.path)}


def write(reply: Reply, resp: falcon.asgi.Response) -> None:
    resp.status = reply.status
    for name, value in reply.headers.items():
        resp.set_header(name, value)
    if reply.events is not None:
        # Falcon's own SSE support watches for the client going away and stops iterating.
        resp.sse = (falcon.asgi.SSEvent(event=event, json=data) async for event, data in reply.events)
    elif reply.body is not None:
        resp.media = reply.body


async def handle_error(req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params) -> None:
    """The one error handler: Falcon's own errors and unexpected ones in the contract's shape."""
    request_id = getattr(req.context, "request_id", None) or request_id_from(None)
    if isinstance(error, errors.ApiError):
        api_error = error
    elif isinstance(error, falcon.HTTPMethodNotAllowed):
        allowed = [method.strip() for method in (error.headers or {}).get("Allow", "").split(",") if method.strip()]
        api_error = errors.MethodNotAllowed(f"{req.method} is not allowed on {req.path}", allowed)
    elif isinstance(error, falcon.HTTPNotFound):
        api_error = errors.NotFound(f"no route for {req.path}")
    elif isinstance(error, falcon.HTTPError) and error.status_code in _STATUS_ERRORS:
        api_error = _STATUS_ERRORS[error.status_code](error.description or error.title)
    else:
        log.error("unhandled error on %s %s (request %s)", req.method, req.path, request_id, exc_info=error)
        api_error = errors.Internal()
    write(error_reply(api_error, request_id), resp)


class Fixed:
    """A resource that serves one document: a JSON value, a text, or a file read when asked for."""

    def __init__(self, content: str | dict | Path, content_type: str = falcon.MEDIA_HTML):
        self._content = content
        self._content_type = content_type

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if isinstance(self._content, dict):
            resp.media = self._content
            return
        resp.content_type = self._content_type
        if isinstance(self._content, Path):
            resp.data = self._content.read_bytes()
            resp.cache_control = ["no-cache"]
        else:
            resp.text = self._content
