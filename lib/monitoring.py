"""Error monitoring: with SENTRY_DSN set, unhandled errors and failing dependencies are reported to Sentry.

Without SENTRY_DSN nothing is sent and sentry_sdk is never imported: every
function here returns at once.

What an event carries is the error, its stack (file, line, code; never a
frame's variables, which hold the question, the configuration and the pool)
and a few tags (route, method, request id; or the dependency). Sentry collects
nothing else by itself: no request, header, cookie, body or user, and no
breadcrumbs (in a server answering many readers at once, the lines logged
just before an error are mostly other readers'; the log has them, by request
id). Before an event leaves, every
configured secret (lib.logs.secrets_of) and any key the request presented is
replaced wherever it shows up, and with STORE_QUERIES=false so is every text
of the request's body: an error message may quote the reader's words
(PostgreSQL's "Failing row contains ..." does).

A failing dependency is reported at most once a minute, so that an outage
can't flood the project; /metrics counts every failure.
"""

from __future__ import annotations

import contextvars
import json
import math
import time
from typing import Any

from lib import __version__
from lib.access import presented_key
from lib.logs import secrets_of

_REDACTED = "[redacted]"
_SHORTEST = 4  # as in lib/logs.py: shorter strings would blank out ordinary words
# All that Sentry may collect by itself: nothing but the error. This is send_default_pii=False made strict;
# sentry-sdk 2.x deprecates send_default_pii in its favour (and warns when it is passed at all).
_COLLECT_NOTHING = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "off"}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}

DEPENDENCY_EVENT_INTERVAL = 60.0  # seconds between two events about one dependency

_sentry: Any = None  # the sentry_sdk module, once set up with a DSN
_reported: dict[str, float] = {}  # when each dependency was last reported
# The request the current task serves, so that its event leaves out what the request brought.
_request: contextvars.ContextVar = contextvars.ContextVar("bookbot_request", default=None)


def setup(config, *, transport: Any = None) -> bool:
    """Report to SENTRY_DSN from now on; without it do nothing, import nothing. Says whether it reports.

    `transport` replaces Sentry's HTTP transport (a test records the events instead).
    """
    global _sentry
    if not config.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration

    sentry_sdk.init(
        dsn=config.sentry_dsn,
        environment=config.sentry_environment,
        release=f"bookbot@{__version__}",
        transport=transport,
        data_collection=_COLLECT_NOTHING,
        include_local_variables=False,
        max_breadcrumbs=0,
        # Only the integrations listed: none of logging, a web framework or an HTTP client adds an event, a
        # request, headers or trace headers of its own. No performance tracing: errors only, each one sent.
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[AtexitIntegration(), DedupeIntegration()],  # send what is queued when the process exits
        before_send=_scrubber(config),
    )
    _sentry = sentry_sdk
    return True


def shutdown() -> None:
    """Send what is queued and stop reporting."""
    global _sentry
    if _sentry is not None:
        _sentry.get_client().close(timeout=2.0)
        _sentry = None
        _reported.clear()


def flush(timeout: float = 2.0) -> None:
    """Send what is queued now: a function host may freeze the process as soon as it has answered."""
    if _sentry is not None:
        _sentry.flush(timeout=timeout)


def watch(request) -> None:
    """Remember the request (an `Incoming`) this task serves, for the scrubbing of its events."""
    if _sentry is not None:
        _request.set(request)


def report_error(
    error: BaseException, *, request_id: str | None = None, method: str | None = None, route: str | None = None
) -> None:
    """An error nothing handled: a 500, a stream ended by a bug, a failed start-up indexing."""
    if _sentry is None:
        return
    tags = {name: value for name, value in (("request_id", request_id), ("method", method), ("route", route)) if value}
    _sentry.capture_exception(error, level="error", tags=tags)


def dependency_failed(service: str, error: BaseException, in_a_row: int) -> None:
    """A call to `service` (openai, qdrant, database) failed, as its breaker counts failures.

    The request was answered anyway (a fallback) or got a 503. Reported at most once per
    DEPENDENCY_EVENT_INTERVAL: a run of failures in a row is no guide, as a model's failing answers
    are interleaved with its working embeddings.
    """
    now = time.monotonic()
    if _sentry is None or now - _reported.get(service, -math.inf) < DEPENDENCY_EVENT_INTERVAL:
        return
    _reported[service] = now
    _sentry.capture_exception(
        error,
        level="warning",
        tags={"service": service},
        extras={"failures_in_a_row": in_a_row},
        # One issue per dependency and kind of failure, wherever in the code the call was made.
        fingerprint=["dependency", service, type(error).__name__],
    )


def _scrubber(config):
    secrets = secrets_of(config)

    def before_send(event: dict, hint: dict) -> dict:
        words = {*secrets, *_brought_by(_request.get(), keep_texts=config.store_queries)}
        words = sorted((word for word in words if len(word) >= _SHORTEST), key=len, reverse=True)
        return _redacted(event, words)

    return before_send


def _brought_by(request, *, keep_texts: bool) -> list[str]:
    """What the request brought that must not leave: the keys it presented, and its body's texts unless kept."""
    if request is None:
        return []
    headers = request.headers
    found = [headers.get("authorization", ""), headers.get("x-api-key", ""), presented_key(headers) or ""]
    if not keep_texts:
        for text in _texts(request.body):
            # As it is, and as a message may quote it: in JSON, or in a repr.
            found += [text, json.dumps(text, ensure_ascii=False)[1:-1], repr(text)[1:-1]]
    return found


def _texts(body: bytes) -> list[str]:
    """Every string of a JSON body (the question, selection, history, comment ...), or the body as text."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return [body.decode("utf-8", "replace")] if body else []
    found, pending = [], [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def _redacted(value: Any, words: list[str]) -> Any:
    if isinstance(value, str):
        for word in words:
            if word in value:
                value = value.replace(word, _REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _redacted(item, words) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, words) for item in value]
    return value
