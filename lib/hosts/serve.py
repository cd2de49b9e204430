"""The one serve step every host shares: route, read, limit, check the key, validate, handle, log.

A host turns what it receives into a `Received`, awaits `serve`, and writes
the `Reply` back in its own terms; a stream's events come out of the reply
ready to send. Everything that is the same whatever the host is here, once:
the route table (404, 405 with `Allow`, HEAD wherever GET is, OPTIONS), the
body limit (413), the per-client rate limit, API keys, the one error shape,
the request id, the access log line and the request metrics.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import ChainMap
from typing import Any, AsyncIterator, Mapping, Sequence

import attrs

from lib import errors, logs, monitoring
from lib.access import KEY_REQUIRED, configured_key_id
from lib.hosts import SHUTTING_DOWN, Pool
from lib.hosts.messages import (
    Incoming,
    Received,
    Reply,
    Route,
    decoded,
    error_reply,
    request_id_from,
)
from lib.metrics import UNMATCHED
from lib.ratelimit import client_address

log = logging.getLogger("bookbot")

_BODY_METHODS = ("POST", "PUT", "PATCH")
# HTTP's methods and WebDAV's: one of these that a path does not take is a 405; any other word, a bad request.
KNOWN_METHODS = frozenset(
    "GET HEAD POST PUT PATCH DELETE OPTIONS TRACE CONNECT QUERY PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    "REPORT CHECKIN CHECKOUT UNCHECKIN UPDATE VERSION-CONTROL".split()
)


class Routes:
    """The route table: each path's routes by method. A GET route answers HEAD too."""

    def __init__(self, routes: Sequence[Route]):
        self._by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            self._by_path.setdefault(route.path, {})[route.method] = route
        for methods in self._by_path.values():
            if "GET" in methods:
                methods.setdefault("HEAD", methods["GET"])

    def find(self, method: str, path: str) -> Route | None:
        """The route for the request; None for an OPTIONS request on a known path. NotFound or MethodNotAllowed."""
        if method not in KNOWN_METHODS:
            raise errors.InvalidRequest(f"{method[:20]} is not an HTTP method")
        methods = self._by_path.get(path)
        if methods is None:
            raise errors.NotFound(f"no route for {path[:200]}")
        route = methods.get(method)
        if route is not None:
            return route
        if method == "OPTIONS":
            return None
        raise errors.MethodNotAllowed(f"{method[:20]} is not allowed on {path[:200]}", self.allowed(path))

    def allowed(self, path: str) -> list[str]:
        return sorted({*self._by_path[path], "OPTIONS"})


async def serve(routes: Routes, pool: Pool, received: Received) -> Reply:
    """The reply to one request, with its X-Request-ID; its access log line is written when it ends."""
    started = time.perf_counter()
    request_id = request_id_from(received.headers.get("x-request-id"))
    clients = await pool.open()
    route = None
    draining = received.draining
    try:
        with draining.tracking() if draining else contextlib.nullcontext():
            route = routes.find(received.method, received.path)
            if route is None:  # OPTIONS: what the path allows (a CORS middleware turns it into a preflight's answer)
                reply = Reply(headers={"Allow": ", ".join(routes.allowed(received.path))})
            else:
                incoming = Incoming(
                    method=received.method,
                    path=received.path,
                    request_id=request_id,
                    params=_single(received.params),
                    headers=received.headers,
                    body=await _body(received, clients.config.max_body_bytes) if received.method in _BODY_METHODS else b"",
                    client=client_address(received.peer, received.headers.get("x-forwarded-for"), clients.config.trusted_proxies),
                )
                reply = await dispatch(route, incoming, clients)
    except errors.ApiError as error:
        reply = error_reply(error, request_id)
    except BaseException as error:  # a request the shutdown's grace ran out on ends with a 503, not a cut
        if draining is None or not draining.drained(error):
            raise
        reply = error_reply(errors.Unavailable(SHUTTING_DOWN), request_id)
    reply = attrs.evolve(reply, headers={**reply.headers, "X-Request-ID": request_id})
    fields = {
        "request_id": request_id,
        "method": received.method[:20],
        "route": route.path if route is not None else received.path[:200],
        "status": reply.status,
    }
    # A label of the metrics: a route's path, a fixed word for the files of a folder, never a raw path.
    label = (route.label or route.path) if route is not None else UNMATCHED
    metrics = clients.metrics
    if reply.events is None:
        seconds = time.perf_counter() - started
        logs.access({**fields, "latency_ms": round(seconds * 1000, 2), **reply.log})
        metrics.request(label, received.method, reply.status, seconds)
        return reply

    def ended(last: str | None) -> None:
        seconds = time.perf_counter() - started
        # `last` is "done" or "error" for a stream that ended; anything else, the reader left first.
        logs.access({**fields, "latency_ms": round(seconds * 1000, 2), "stream_end": last, **reply.log})
        metrics.request(label, received.method, reply.status, seconds)

    return attrs.evolve(reply, events=_sent(reply.events, request_id, ended, draining))


async def dispatch(route: Route, incoming: Incoming, clients: Any) -> Reply:
    """Limit, check the key, validate, handle; and turn any failure into the one error shape.

    The rate limit comes first, so that guessing keys costs requests too; on a
    route behind a key, a client that sent too many wrong keys is refused before
    its key is even looked at.
    """
    monitoring.watch(incoming)
    keys = clients.config.api_keys
    key = configured_key_id(incoming.headers, keys) if route.needs_key else None
    keyed = route.keyed or (route.needs_key and bool(keys))
    verdict = None
    if route.limited:
        client = f"{incoming.client} key:{key}" if key else str(incoming.client)
        verdict = clients.guards.limiter.take(client)
    try:
        if verdict is not None and not verdict.allowed:
            raise errors.RateLimited(f"too many requests from this client; try again in {verdict.retry_after} s")
        if keyed:
            clients.guards.wrong_keys.check(str(incoming.client))
        if route.needs_key and keys and key is None:
            raise errors.Unauthorized(KEY_REQUIRED)
        request = route.parse(incoming)
        reply = await route.handle(request, clients)
    except errors.ApiError as error:
        reply = error_reply(error, incoming.request_id)
    except Exception as error:
        log.exception("unhandled error in %s %s (request %s)", route.method, route.path, incoming.request_id)
        monitoring.report_error(error, request_id=incoming.request_id, method=route.method, route=route.path)
        reply = error_reply(errors.Internal(), incoming.request_id)
    if keyed and reply.status == 401:
        clients.guards.wrong_keys.failed(str(incoming.client))
    # A live view, not a copy: a stream goes on adding to its own fields.
    fields = ChainMap({"key_id": key} if key else {}, reply.log)
    return attrs.evolve(reply, headers={**(verdict.headers() if verdict else {}), **reply.headers}, log=fields)


async def _body(received: Received, limit: int) -> bytes:
    """The body, at most `limit` bytes as sent and as decoded from its Content-Encoding."""
    return decoded(await received.read_body(limit), received.headers.get("content-encoding"), limit)


def _single(params: Mapping[str, str | list[str]]) -> dict[str, str]:
    """The query string's parameters; one given twice is refused, as a JSON key given twice is."""
    for name, value in params.items():
        if isinstance(value, list):
            raise errors.InvalidRequest(f"the parameter {name[:100]!r} is given more than once", field=name[:100])
    return dict(params)


async def _sent(events: AsyncIterator[tuple[str, Any]], request_id: str, ended, draining=None) -> AsyncIterator[tuple[str, Any]]:
    """A handler's events as they go out: a bug in the middle ends them with an error event, not a cut; the
    access line is written when they end, however they end (one still going at a shutdown's deadline is ended by
    its host with an error event)."""
    last = None
    try:
        try:
            async for event, data in events:
                last = event
                yield event, data
        except Exception as error:
            log.exception("unhandled error in a stream (request %s)", request_id)
            monitoring.report_error(error, request_id=request_id)
            last = "error"
            yield "error", errors.Internal().body(request_id)
    finally:
        ended("error" if draining is not None and draining.over() and last not in ("done", "error") else last)
