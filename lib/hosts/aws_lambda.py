"""The AWS Lambda host: API Gateway HTTP API (payload format 2.0) events in, the same handlers run.

No AWS library is needed: an event is a dict and the answer is a dict. The
pool is opened on the first invocation and kept, with its event loop, for the
invocations that reuse the same execution environment.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Callable, Sequence

from lib import errors
from lib.hosts import Pool
from lib.http import Incoming, Reply, Route, dispatch, encode_event, error_reply, request_id_from


def _incoming(event: dict, request_id: str) -> Incoming:
    http = event.get("requestContext", {}).get("http", {})
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    return Incoming(
        method=http.get("method", "GET").upper(),
        path=event.get("rawPath") or http.get("path", "/"),
        request_id=request_id,
        params=dict(event.get("queryStringParameters") or {}),
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        body=raw,
        client=http.get("sourceIp"),
    )


async def _collect(reply: Reply) -> str:
    """A buffered API Gateway response can't stream: the events go out in one body."""
    return b"".join([encode_event(event, data) async for event, data in reply.events]).decode()


async def _respond(routes: dict, pool: Pool, event: dict) -> dict:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    request_id = request_id_from(headers.get("x-request-id"))
    clients = await pool.open()
    incoming = _incoming(event, request_id)
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
    out_headers = {**reply.headers, "X-Request-ID": request_id}
    if reply.events is not None:
        out_headers["Content-Type"] = "text/event-stream"
        body = await _collect(reply)
    elif reply.body is not None:
        out_headers["Content-Type"] = "application/json"
        body = json.dumps(reply.body, ensure_ascii=False)
    else:
        body = ""
    if incoming.method == "HEAD":
        body = ""
    return {"statusCode": reply.status, "headers": out_headers, "body": body, "isBase64Encoded": False}


def adapt(routes: Sequence[Route], pool: Pool) -> Callable[[dict, Any], dict]:
    """`lambda_handler(event, context)` serving the routes."""
    table: dict[str, dict[str, Route]] = {}
    for route in routes:
        table.setdefault(route.path, {})[route.method] = route
    loop = asyncio.new_event_loop()

    def lambda_handler(event: dict, context: Any) -> dict:
        return loop.run_until_complete(_respond(table, pool, event))

    return lambda_handler
