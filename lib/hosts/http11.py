"""uvicorn's HTTP/1.1 protocol (h11) as the service runs it: strict about what it takes, bounded in what it holds.

h11 takes any HTTP/x.y version and any request target, uvicorn times nothing
out until a first response is sent, says 100 Continue to a body it will
refuse, and holds every connection it accepts. This protocol, a subclass of
uvicorn's own:

- refuses, in the contract's error shape, what the app could not answer: an
  HTTP version other than 1.0 and 1.1 (505; HTTP/2's preface too), a target
  that is no path (400), Content-Length and Transfer-Encoding together (400),
  a body declared over MAX_BODY_BYTES behind `Expect: 100-continue` (413, at
  once, without "100 Continue"), and whatever h11 itself refuses (400, 431,
  501); then it closes the connection, after reading what the client still
  sends for a moment so that the refusal is not lost to a reset;
- serves an absolute-form target (`GET http://host/health`) as its path;
- gives a request's headers HEADER_TIMEOUT_SECONDS and its body
  BODY_TIMEOUT_SECONDS in all (408), and a connection that says nothing the
  keep-alive timeout, from its first moment;
- holds at most MAX_CONNECTIONS connections: past it, a new one closes the
  connection that has waited longest on its client (for a request, for the
  rest of its headers, or for its body), and is refused with 503 only when
  every one is busy with a request;
- tells the app's Draining (lib.hosts) when a shutdown begins.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import h11
from attrs import frozen
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from lib import logs
from lib.hosts import DRAINING_STATE, SHUTTING_DOWN
from lib.hosts.messages import request_id_from

log = logging.getLogger("bookbot")

LOG_EVERY_SECONDS = 60.0
# After a refusal, what the client still sends is read and dropped for this long before the connection closes:
# closed at once, with its data unread, the socket would send a reset that can destroy the refusal on its way.
LINGER_SECONDS = 2.0
_VERSIONS = (b"1.0", b"1.1")
_ABSOLUTE_FORM = re.compile(rb"https?://[^/?#]*", re.IGNORECASE)


@frozen
class Limits:
    """What one server allows its clients."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1024
    max_body_bytes: int = 65536


class Every:
    """Whether to log now: at most once an interval, and how many times it was not since."""

    def __init__(self, seconds: float):
        self._seconds = seconds
        self._next = 0.0
        self._skipped = 0

    def due(self) -> int | None:
        now = time.monotonic()
        if now < self._next:
            self._skipped += 1
            return None
        skipped, self._skipped, self._next = self._skipped, 0, now + self._seconds
        return skipped



class _Refusal(h11.RemoteProtocolError):
    """Raised when a request is refused before the app sees it: its status, code and message, in the contract's
    error shape."""

    def __init__(self, status: int, code: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message, error_status_hint=status)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    @classmethod
    def of(cls, error: h11.RemoteProtocolError) -> "_Refusal":
        """What h11 refused, said the same way."""
        if error.error_status_hint == 431:
            return cls(431, "headers_too_large", "the request's headers are too large")
        if error.error_status_hint == 501:
            return cls(501, "not_implemented", f"{error}")
        return cls(400, "invalid_request", f"the request is not valid HTTP/1.1: {error}")


class _StrictConnection(h11.Connection):
    """h11's connection, refusing what h11 lets through and the app could not answer, and keeping what it refused."""

    def __init__(self, max_body_bytes: int, max_incomplete_event_size: int):
        super().__init__(h11.SERVER, max_incomplete_event_size)
        self.max_body_bytes = max_body_bytes
        self.refusal: _Refusal | None = None
        self.request: h11.Request | None = None  # the last one received

    def start_next_cycle(self) -> None:
        super().start_next_cycle()
        self.request = None

    def next_event(self):
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                self.request = event
                self._check(event)
            return event
        except _Refusal as refusal:
            self.refusal = refusal
            raise
        except h11.RemoteProtocolError as error:
            self.refusal = _Refusal.of(error)
            raise

    def _check(self, request: h11.Request) -> None:
        names = {name for name, _ in request.headers}
        if b"content-length" in names and b"transfer-encoding" in names:  # how a request is smuggled past a proxy
            raise _Refusal(400, "invalid_request", "send Content-Length or Transfer-Encoding, not both")
        if request.http_version not in _VERSIONS:  # "PRI * HTTP/2.0", HTTP/2's preface, is one
            version = request.http_version.decode("ascii", "replace")
            raise _Refusal(505, "http_version_not_supported", f"HTTP/{version} is not supported: send HTTP/1.1")
        if not request.target.startswith(b"/"):
            absolute = _ABSOLUTE_FORM.match(request.target)
            if absolute is None:
                raise _Refusal(400, "invalid_request", "the request target must be a path that starts with /, such as /health")
            path = request.target[absolute.end() :]
            # h11's events are frozen; this one is read only by the protocol that builds the request's scope from it.
            object.__setattr__(request, "target", path if path.startswith(b"/") else b"/" + path)
        if self.they_are_waiting_for_100_continue and _declared_length(request) > self.max_body_bytes:
            raise _Refusal(413, "payload_too_large", f"the body must be at most {self.max_body_bytes} bytes")


def _declared_length(request: h11.Request) -> int:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)  # h11 checked that it is a number
    return 0


class Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, strict and bounded (see the module's docstring); `limits` is set per server,
    and `crowded` says when to log that the server holds all the connections it may."""

    limits = Limits()
    crowded = Every(LOG_EVERY_SECONDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        self.conn = _StrictConnection(self.limits.max_body_bytes, size)
        self.waiting_since = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_for: str | None = None
        self._refused = False

    # What uvicorn calls

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._make_room()
        if not self._refused:  # nothing said yet: the keep-alive timeout, as between two requests
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # lingering after a refusal: nothing more is read as HTTP
            return
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        self.waiting_since = time.monotonic()
        super().on_response_complete()
        self._watch()

    def send_400_response(self, msg: str) -> None:
        self._refuse(self.conn.refusal or _Refusal(400, "invalid_request", msg))

    def shutdown(self) -> None:
        draining = self.app_state.get(DRAINING_STATE)
        if draining is not None:
            draining.begin(self.config.timeout_graceful_shutdown)
        if self._refused:  # lingering: the refusal is sent
            self.transport.close()
        elif self._waiting_for_body():  # the app has nothing to answer yet: a body may never come
            self._refuse(_Refusal(503, "unavailable", SHUTTING_DOWN, ((b"retry-after", b"5"),)))
            self.transport.close()
        else:
            super().shutdown()

    # Bounds

    def _make_room(self) -> None:
        """Close the connection that has waited longest on its client; with none waiting, refuse this one."""
        waiting = [other for other in self.connections if other is not self and other.waits_on_client()]
        if waiting:
            min(waiting, key=lambda other: other.waiting_since).close_waiting()
            self._report("closing the connections that waited longest on their client")
            return
        self._report("every one busy: refusing new ones with 503")
        self._refuse(_Refusal(503, "unavailable", "the server is as busy as it can be; try again shortly", ((b"retry-after", b"1"),)))

    def _report(self, what: str) -> None:
        skipped = self.crowded.due()
        if skipped is not None:
            log.warning(
                "connections at MAX_CONNECTIONS (%d), %s; %d more times since the last report",
                self.limits.max_connections, what, skipped,
            )

    def waits_on_client(self) -> bool:
        """Waiting on the client: for a request (kept alive, or its headers half-sent), or for a body."""
        if self.transport is None or self.transport.is_closing():
            return False
        return self.cycle is None or self.cycle.response_complete or self._waiting_for_body()

    def close_waiting(self) -> None:
        if self._waiting_for_body():
            self._disconnect_app()
        self.transport.close()

    def _waiting_for_body(self) -> bool:
        cycle = self.cycle
        serving = cycle is not None and not cycle.response_complete
        return serving and self.conn.their_state is h11.SEND_BODY and not cycle.response_started

    def _watch(self) -> None:
        """Time what the connection waits for from its client: a request's headers, or its body."""
        if self.transport.is_closing():
            self._stop_timer()
        elif self._waiting_for_body():
            self._start_timer("body", self.limits.body_timeout)
        elif self.cycle is not None and not self.cycle.response_complete:
            self._stop_timer()  # the app is answering
        elif self.conn.trailing_data[0] or self.conn.their_state is h11.SEND_BODY:
            # Part of the next request's headers, or the rest of a body already answered (413), keep coming.
            self._start_timer("headers", self.limits.header_timeout)
        else:  # between two requests: the keep-alive timeout
            self._stop_timer()
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def _start_timer(self, waiting_for: str, seconds: float) -> None:
        if self._timer_for == waiting_for:
            return  # a timeout counts from when the wait began, not from the last byte
        self._stop_timer()
        self._timer_for = waiting_for
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_for = None

    def _timed_out(self) -> None:
        waiting_for, self._timer, self._timer_for = self._timer_for, None, None
        if self.transport.is_closing():
            return
        if waiting_for == "body" and self._waiting_for_body():
            message = f"the body did not arrive within {self.limits.body_timeout:g} s"
        elif waiting_for == "headers" and self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            message = f"the request's headers did not arrive within {self.limits.header_timeout:g} s"
        else:  # the rest of a body already answered: nothing left to say
            self.transport.close()
            return
        self._refuse(_Refusal(408, "request_timeout", message))

    # Answers of the protocol's own

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer in the contract's error shape, and close: what comes after the refused part can't be read."""
        request = self.conn.request
        headers = dict(request.headers) if request is not None else {}
        request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin-1"))
        body = json.dumps({"error": {"code": refusal.code, "message": refusal.message}, "request_id": request_id}).encode()
        fields = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
            *refusal.headers,
        ]
        # Logged before the client hears: whoever reads the log after the answer finds its line.
        logs.access(
            {
                "request_id": request_id,
                "method": request.method.decode("ascii", "replace")[:20] if request is not None else None,
                "route": request.target.decode("ascii", "replace")[:200] if request is not None else None,
                "status": refusal.status,
                "refused_by": "http",
            }
        )
        head = b"HTTP/1.1 %d %s\r\n" % (refusal.status, STATUS_PHRASES[refusal.status])
        head += b"".join(name + b": " + value + b"\r\n" for name, value in fields) + b"\r\n"
        self.transport.write(head + (b"" if request is not None and request.method == b"HEAD" else body))
        self._disconnect_app()
        self._stop_timer()
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the refusal is all this side says; the client may finish sending meanwhile
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _disconnect_app(self) -> None:
        """The app's request, if one runs, sees its client gone (and anything it sends is dropped)."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()

