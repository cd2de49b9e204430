"""Host-neutral values: a request as a host received it, as a handler reads it, a handler's reply, a route.

A host (Falcon, AWS Lambda, ...) turns what it receives into a `Received`;
lib.hosts.serve turns that into the `Incoming` a route's parser reads, and
hands back the `Reply` for the host to write in its own terms.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

from attrs import field, frozen

from lib import errors
from lib.ids import new_id
from lib.untrusted_json import MAX_DEPTH, nested_deeper_than

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# No field of the API needs more; a longer number is an attack on the parser or on error messages.
_MAX_NUMBER_CHARACTERS = 40
_UTF8 = ("utf-8", "utf8")
# JSON, or a structured syntax suffix of it (RFC 6839): application/merge-patch+json, application/vnd.api+json.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:json|[a-z0-9!#$&^_.-]+\+json)")
_QUOTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)')  # to its end quote, or the header's end
# Content codings a body may come in, and the window bits zlib reads each with (gzip: a gzip header and trailer;
# deflate: zlib's, though some clients send it raw, which is tried next).
_CODINGS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
ACCEPTED_ENCODINGS = "gzip, deflate"
_EXACT_INTEGERS = 2**53  # beyond it a float is no longer exactly the integer it was written as


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return new_id()


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


def decoded(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body as sent before its Content-Encoding (gzip or deflate), refused when over `limit` bytes once
    decoded: a few kilobytes of gzip can hold gigabytes of zeros."""
    codings = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings:
        return body
    if len(codings) > 1 or codings[0] not in _CODINGS:
        raise errors.UnsupportedMediaType(
            f"Content-Encoding {', '.join(codings)[:60]} is not supported; send the body as it is, or in gzip or deflate",
            headers={"Accept-Encoding": ACCEPTED_ENCODINGS},
        )
    coding = codings[0]
    try:
        return _inflated(body, _CODINGS[coding], limit)
    except zlib.error:
        if coding == "deflate":
            try:
                return _inflated(body, -15, limit)
            except zlib.error:
                pass
    raise errors.InvalidRequest(f"the body is not valid {coding}, as its Content-Encoding says")


def _inflated(body: bytes, window_bits: int, limit: int) -> bytes:
    """Inflate every member of `body` (gzip allows several, one after another), stopping past `limit` bytes."""
    inflated = bytearray()
    rest = body
    while True:
        inflater = zlib.decompressobj(window_bits)
        inflated += inflater.decompress(rest, limit + 1 - len(inflated))
        if len(inflated) > limit or inflater.unconsumed_tail:
            raise errors.PayloadTooLarge(f"the body must be at most {limit} bytes once decompressed")
        if not inflater.eof:
            raise zlib.error("the stream ends early")
        rest = inflater.unused_data
        if not rest:
            return bytes(inflated)
        if window_bits != _CODINGS["gzip"]:
            raise zlib.error("data after the end of the stream")


def _media_type(content_type: str) -> str:
    """The media type of a Content-Type header, lower case; given twice, the header is refused."""
    if "," in _QUOTED.sub("", content_type):
        raise errors.InvalidRequest("Content-Type must be given once")
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, lower case, if it has one."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


@frozen
class Received:
    """A request as a host received it: lower-case header names, and a way to read the body when wanted.

    `params` maps a query parameter's name to its value, or to a list of the
    values when it was given more than once. `read_body(limit)` returns the
    body, or raises PayloadTooLarge when it is over `limit` bytes. `draining`
    is the server's lib.hosts.Draining, when it shuts down gracefully.
    """

    method: str
    path: str
    params: Mapping[str, str | list[str]]
    headers: Mapping[str, str]
    peer: str | None  # the address the request came from, as the host saw it; never a header
    read_body: Callable[[int], Awaitable[bytes]]
    draining: Any = None


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
        media_type = _media_type(content_type)
        if not _JSON_MEDIA_TYPE.fullmatch(media_type):
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
        if nested_deeper_than(text, MAX_DEPTH):  # before parsing: the parser recurses once a level
            raise errors.InvalidJson(f"the body nests arrays and objects more than {MAX_DEPTH} deep")
        try:
            data = json.loads(
                text,
                object_pairs_hook=_reject_duplicate_keys,
                parse_constant=_reject_constant,
                parse_int=_integer,
                parse_float=_float,
            )
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
    label: str | None = None  # how the metrics name it, when not by its path (the files of a folder)
    keyed: bool = False  # its handler checks a Bearer key (ADMIN_API_KEY, METRICS_API_KEY): wrong ones are counted


def error_reply(error: errors.ApiError, request_id: str) -> Reply:
    return Reply(body=error.body(request_id), status=error.STATUS, headers=error.headers)


def encode_event(event: str, data: Any) -> bytes:
    """One server-sent event, its data as a single line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
