"""The AWS Lambda host: API Gateway HTTP API (payload format 2.0) events in, the same handlers run.

No AWS library is needed: an event is a dict and the answer is a dict. The
pool is opened on the first invocation and kept, with its event loop, for the
invocations that reuse the same execution environment.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from functools import partial
from typing import Any, Callable, Sequence

from lib import errors, logs, monitoring
from lib.hosts import Pool
from lib.hosts.messages import (
    Incoming,
    Reply,
    Route,
    dispatch,
    encode_event,
    error_reply,
    request_id_from,
)
from lib.metrics import UNMATCHED, Metrics
from lib.ratelimit import client_address

log = logging.getLogger("bookbot")


def _incoming(event: dict, request_id: str, trusted_proxies: int) -> Incoming:
    http = event.get("requestContext", {}).get("http", {})
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        raise errors.InvalidJson("the body is not valid base64") from None
    return Incoming(
        method=http.get("method", "GET").upper(),
        path=event.get("rawPath") or http.get("path", "/"),
        request_id=request_id,
        params=dict(event.get("queryStringParameters") or {}),
        headers=headers,
        body=raw,
        # API Gateway's sourceIp is the peer it saw; proxies in front of it (CloudFront) count in TRUSTED_PROXIES.
        client=client_address(http.get("sourceIp"), headers.get("x-forwarded-for"), trusted_proxies),
    )


async def _collect(reply: Reply, request_id: str) -> str:
    """A buffered API Gateway response can't stream: the events go out in one body, a bug as an error event."""
    parts = []
    try:
        async for event, data in reply.events:
            parts.append(encode_event(event, data))
    except Exception as error:
        log.exception("unhandled error in a stream (request %s)", request_id)
        monitoring.report_error(error, request_id=request_id)
        parts.append(encode_event("error", errors.Internal().body(request_id)))
    return b"".join(parts).decode()


async def _respond(routes: dict, pool: Pool, event: dict) -> dict:
    started = time.perf_counter()
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    request_id = request_id_from(headers.get("x-request-id"))
    clients = await pool.open()
    path = event.get("rawPath") or event.get("requestContext", {}).get("http", {}).get("path", "/")
    route = path if path in routes else UNMATCHED  # a label: never a raw path
    answer = partial(_response, started=started, event=event, counted=clients.metrics, route=route)
    try:
        incoming = _incoming(event, request_id, clients.config.trusted_proxies)
    except errors.ApiError as error:
        return answer(error_reply(error, request_id), request_id, "")
    methods = routes.get(incoming.path)
    if methods is None:
        reply = error_reply(errors.NotFound(f"no route for {incoming.path}"), request_id)
    elif incoming.method not in methods:
        error = errors.MethodNotAllowed(f"{incoming.method} is not allowed on {incoming.path}", sorted(methods))
        reply = error_reply(error, request_id)
    elif len(incoming.body) > clients.config.max_body_bytes:
        error = errors.PayloadTooLarge(f"the body must be at most {clients.config.max_body_bytes} bytes")
        reply = error_reply(error, request_id)
    else:
        reply = await dispatch(methods[incoming.method], incoming, clients)
    body, encoded = "", False
    if reply.events is not None:
        body = await _collect(reply, request_id)
    elif isinstance(reply.body, bytes):
        body, encoded = _text(reply.body)
    elif reply.body is not None:
        body = json.dumps(reply.body, ensure_ascii=False)
    if incoming.method == "HEAD":
        body, encoded = "", False
    return answer(reply, request_id, body, encoded=encoded)


def _text(body: bytes) -> tuple[str, bool]:
    """A body as API Gateway takes it: as text when it is UTF-8 (Prometheus's format is), else in base64."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _response(
    reply: Reply,
    request_id: str,
    body: str,
    *,
    started: float,
    event: dict,
    counted: Metrics,
    route: str,
    encoded: bool = False,
) -> dict:
    """API Gateway's answer, and the access log line and the metrics the Falcon host would write."""
    headers = {**reply.headers, "X-Request-ID": request_id}
    if reply.events is not None:
        headers["Content-Type"] = "text/event-stream"
    elif reply.body is not None and not isinstance(reply.body, bytes):
        headers["Content-Type"] = "application/json"
    http = event.get("requestContext", {}).get("http", {})
    method = str(http.get("method", "GET"))[:20]
    seconds = time.perf_counter() - started
    logs.access(
        {
            "request_id": request_id,
            "method": method,
            "route": str(event.get("rawPath") or http.get("path", "/"))[:200],
            "status": reply.status,
            "latency_ms": round(seconds * 1000, 2),
            **reply.log,
        }
    )
    counted.request(route, method.upper(), reply.status, seconds)
    return {"statusCode": reply.status, "headers": headers, "body": body, "isBase64Encoded": encoded}


def adapt(routes: Sequence[Route], pool: Pool) -> Callable[[dict, Any], dict]:
    """`lambda_handler(event, context)` serving the routes."""
    table: dict[str, dict[str, Route]] = {}
    for route in routes:
        table.setdefault(route.path, {})[route.method] = route
    loop = asyncio.new_event_loop()

    def lambda_handler(event: dict, context: Any) -> dict:
        try:
            return loop.run_until_complete(_respond(table, pool, event))
        except Exception as error:
            monitoring.report_error(error)
            raise
        finally:
            # The execution environment may be frozen as soon as this returns: what is queued goes now.
            monitoring.flush()

    return lambda_handler
