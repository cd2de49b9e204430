"""Host-neutral request and reply values, and the one dispatch step every host shares.

A host adapter (Falcon, AWS Lambda, ...) turns what it receives into an
`Incoming`, calls `dispatch`, and writes the `Reply` back in its own terms.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

from attrs import field, frozen

from lib import errors
from lib.access import require_api_key

log = logging.getLogger("bookbot")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise errors.InvalidJson(f"the key {key!r} appears twice", field=key)
        result[key] = value
    return result


def _reject_constant(name: str):
    raise errors.InvalidJson(f"{name} is not valid JSON")


@frozen
class Incoming:
    """One request as any host hands it over: names of headers are lower case."""

    method: str
    path: str
    request_id: str
    params: Mapping[str, str] = field(factory=dict)
    headers: Mapping[str, str] = field(factory=dict)
    body: bytes = b""
    client: str | None = None

    def json(self) -> dict:
        """The body as a JSON object, or the error that says why it isn't one."""
        content_type = self.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise errors.UnsupportedMediaType(
                f"send the body as application/json, not {media_type or 'no content type'}"
            )
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.InvalidJson("the body is not valid UTF-8") from None
        try:
            data = json.loads(
                text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
            )
        except RecursionError:
            raise errors.InvalidJson("the body is nested too deeply") from None
        except json.JSONDecodeError as error:
            raise errors.InvalidJson(f"the body is not valid JSON: {error.msg} at position {error.pos}") from None
        if not isinstance(data, dict):
            raise errors.InvalidJson("the body must be a JSON object")
        return data


@frozen
class Reply:
    """What a handler returns: a JSON body, or a stream of server-sent events."""

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(factory=dict)
    events: AsyncIterator[tuple[str, Any]] | None = None


@frozen
class Route:
    """One endpoint: a method and path, how to read its request, and its handler."""

    method: str
    path: str
    parse: Callable[[Incoming], Any]
    handle: Callable[[Any, Any], Awaitable[Reply]]
    needs_key: bool = False  # when API_KEYS is set


def error_reply(error: errors.ApiError, request_id: str) -> Reply:
    return Reply(body=error.body(request_id), status=error.STATUS, headers=error.headers)


async def dispatch(route: Route, incoming: Incoming, clients: Any) -> Reply:
    """Validate, handle, and turn any failure into the one error shape."""
    try:
        if route.needs_key:
            require_api_key(incoming.headers, clients.config.api_keys)
        request = route.parse(incoming)
        return await route.handle(request, clients)
    except errors.ApiError as error:
        return error_reply(error, incoming.request_id)
    except Exception:
        log.exception("unhandled error in %s %s (request %s)", route.method, route.path, incoming.request_id)
        return error_reply(errors.Internal(), incoming.request_id)


def encode_event(event: str, data: Any) -> bytes:
    """One server-sent event, its data as a single line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
