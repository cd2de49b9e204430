"""The AWS Lambda host: API Gateway HTTP API (payload format 2.0) events in, the shared serve step, dicts out.

No AWS library is needed: an event is a dict and the answer is a dict. The
pool is opened on the first invocation and kept, with its event loop, for the
invocations that reuse the same execution environment.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from functools import partial
from typing import Any, Callable, Sequence

from lib import errors, monitoring
from lib.hosts import Pool
from lib.hosts.messages import Received, Reply, Route, encode_event
from lib.hosts.serve import Routes, serve


def adapt(routes: Sequence[Route], pool: Pool) -> Callable[[dict, Any], dict]:
    """`lambda_handler(event, context)` serving the routes."""
    table = Routes(routes)
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


async def _respond(routes: Routes, pool: Pool, event: dict) -> dict:
    http = event.get("requestContext", {}).get("http", {})
    received = Received(
        method=str(http.get("method", "GET")).upper(),
        path=event.get("rawPath") or http.get("path", "/"),
        # API Gateway joins the values of a parameter given twice with commas.
        params=dict(event.get("queryStringParameters") or {}),
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        # The peer API Gateway saw; proxies in front of it (CloudFront) count in TRUSTED_PROXIES.
        peer=http.get("sourceIp"),
        read_body=partial(_body, event),
    )
    reply = await serve(routes, pool, received)
    body, encoded = "", False
    if reply.events is not None:
        # A buffered API Gateway response can't stream: the events go out in one body.
        body = b"".join([encode_event(name, data) async for name, data in reply.events]).decode()
    elif isinstance(reply.body, bytes):
        body, encoded = _text(reply.body)
    elif reply.body is not None:
        body = json.dumps(reply.body, ensure_ascii=False)
    if received.method == "HEAD":
        body, encoded = "", False
    return {"statusCode": reply.status, "headers": _headers(reply), "body": body, "isBase64Encoded": encoded}


async def _body(event: dict, limit: int) -> bytes:
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        raise errors.InvalidJson("the body is not valid base64") from None
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"the body must be at most {limit} bytes")
    return raw


def _headers(reply: Reply) -> dict[str, str]:
    headers = dict(reply.headers)
    if reply.events is not None:
        headers["Content-Type"] = "text/event-stream"
    elif reply.body is not None and not isinstance(reply.body, bytes):
        headers["Content-Type"] = "application/json"
    return headers


def _text(body: bytes) -> tuple[str, bool]:
    """A body as API Gateway takes it: as text when it is UTF-8 (Prometheus's format is), else in base64."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
