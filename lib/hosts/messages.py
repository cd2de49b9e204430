"""Host-neutral request and reply values, and the one dispatch step every host shares.

A host adapter (Falcon, AWS Lambda, ...) turns what it receives into an
`Incoming`, calls `dispatch`, and writes the `Reply` back in its own terms.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections import ChainMap
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import attrs
from attrs import field, frozen

from lib import errors, monitoring
from lib.access import KEY_REQUIRED, key_id

log = logging.getLogger("bookbot")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# No field of the API needs more; a longer number is an attack on the parser or on error messages.
_MAX_NUMBER_CHARACTERS = 40
_UTF8 = ("utf-8", "utf8")
_EXACT_INTEGERS = 2**53  # beyond it a float is no longer exactly the integer it was written as


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise errors.InvalidJson(f"the key {key[:100]!r} appears twice", field=key[:100])
        result[key] = value
    return result


def _reject_constant(name: str):
    raise errors.InvalidJson(f"{name} is not valid JSON")


def _integer(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARACTERS:
        raise errors.InvalidJson(f"a number in the body has more than {_MAX_NUMBER_CHARACTERS} digits")
    return int(text)


def _float(text: str) -> float | int:
    """A JSON number with a fraction or an exponent; a whole one (5.0, 1e1) is the integer it equals."""
    if len(text) > _MAX_NUMBER_CHARACTERS:
        raise errors.InvalidJson(f"a number in the body has more than {_MAX_NUMBER_CHARACTERS} characters")
    number = float(text)
    if not math.isfinite(number):
        raise errors.InvalidJson("a number in the body is out of range")
    # JSON has numbers, not ints and floats: 5.0 is the 5 that a field of whole numbers asks for.
    if number.is_integer() and abs(number) <= _EXACT_INTEGERS:
        return int(number)
    return number


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, lower case, if it has one."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


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
                f"send the body as application/json, not {media_type[:100] or 'no content type'}"
            )
        charset = _charset(content_type)
        if charset is not None and charset not in _UTF8:
            raise errors.UnsupportedMediaType(f"send JSON as UTF-8, not {charset[:40]}")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.InvalidJson("the body is not valid UTF-8") from None
        try:
            data = json.loads(
                text,
                object_pairs_hook=_reject_duplicate_keys,
                parse_constant=_reject_constant,
                parse_int=_integer,
                parse_float=_float,
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
    """What a handler returns: a JSON body, bytes sent as they are (typed by a Content-Type header), or a
    stream of server-sent events.

    `log` holds fields for the request's access log line, such as whether the
    answer came from a cache and the model tokens it cost; never a secret. A
    stream may add to it until it ends: the line is written then.
    """

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(factory=dict)
    events: AsyncIterator[tuple[str, Any]] | None = None
    log: Mapping[str, Any] = field(factory=dict)


@frozen
class Route:
    """One endpoint: a method and path, how to read its request, and its handler."""

    method: str
    path: str
    parse: Callable[[Incoming], Any]
    handle: Callable[[Any, Any], Awaitable[Reply]]
    needs_key: bool = False  # when API_KEYS is set
    limited: bool = False  # by RATE_LIMIT_PER_MINUTE and RATE_LIMIT_PER_DAY, per client


def error_reply(error: errors.ApiError, request_id: str) -> Reply:
    return Reply(body=error.body(request_id), status=error.STATUS, headers=error.headers)


async def dispatch(route: Route, incoming: Incoming, clients: Any) -> Reply:
    """Limit, check the key, validate, handle; and turn any failure into the one error shape.

    The rate limit comes first, so that guessing keys costs requests too.
    """
    monitoring.watch(incoming)
    keys = clients.config.api_keys
    key = key_id(incoming.headers, keys) if route.needs_key else None
    verdict = None
    if route.limited:
        client = f"{incoming.client} key:{key}" if key else str(incoming.client)
        verdict = clients.guards.limiter.take(client)
    try:
        if verdict is not None and not verdict.allowed:
            raise errors.RateLimited(f"too many requests from this client; try again in {verdict.retry_after} s")
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
    # A live view, not a copy: a stream goes on adding to its own fields.
    fields = ChainMap({"key_id": key} if key else {}, reply.log)
    return attrs.evolve(reply, headers={**reply.headers, **(verdict.headers() if verdict else {})}, log=fields)


def encode_event(event: str, data: Any) -> bytes:
    """One server-sent event, its data as a single line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
