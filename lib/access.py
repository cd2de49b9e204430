"""API keys: when API_KEYS is set, the answering routes want one of them; the admin routes want ADMIN_API_KEY,
and /metrics METRICS_API_KEY when it is set. Wrong keys are counted per client, and cost it the keyed routes
for a while once there were too many."""

from __future__ import annotations

import hmac
import math
import secrets
import time
from typing import Callable

from attrs import frozen
from cachetools import TTLCache

from lib.errors import Forbidden, RateLimited, Unauthorized

KEY_REQUIRED = "this route needs an API key: Authorization: Bearer KEY or X-API-Key: KEY"
WRONG_KEYS_PER_MINUTE = 20  # per client address, on every route behind a key
_MAX_CLIENTS = 20_000
_MINUTE = 60.0
# Key ids are an HMAC of the key under this process's own random secret: an id in a log line can't be turned back
# into a short key by trying every one, and means nothing to another process. So ids change at each start; the
# start-up log line says which configured key has which id (`describe_key_ids`).
_KEY_ID_SECRET = secrets.token_bytes(32)


def presented_key(headers) -> str | None:
    """The key a request carries, as `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return (headers.get("x-api-key") or "").strip() or None


def key_id(key: str) -> str:
    """A key's non-secret id, for the logs, the rate limiter and the answer cache's scope; stable for this process."""
    return hmac.new(_KEY_ID_SECRET, key.encode("utf-8", "surrogatepass"), "sha256").hexdigest()[:16]


def describe_key_ids(api_keys: tuple[str, ...]) -> str | None:
    """Which of API_KEYS has which id in this process's logs, by position; None when there are none."""
    if not api_keys:
        return None
    listed = ", ".join(f"key {n} is {key_id(key)}" for n, key in enumerate(api_keys, start=1))
    return f"API_KEYS in this process's access log: {listed}"


def configured_key_id(headers, keys: tuple[str, ...]) -> str | None:
    """The id of the configured key the request presents, or None when it presents none of them."""
    if not keys:
        return None
    presented = presented_key(headers)
    # Compare against every key, always, so the time taken says nothing about which one nearly matched.
    matched = False
    for key in keys:
        matched |= presented is not None and hmac.compare_digest(presented.encode(), key.encode())
    return key_id(presented) if matched else None


def bearer_token(headers) -> str | None:
    """The token of `Authorization: Bearer TOKEN`, if the request carries one (an admin's or a scraper's key)."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def require_bearer(token: str | None, key: str | None, route: str, *, variable: str, open_when_unset: bool = False) -> None:
    """Check a route's Bearer key, compared in constant time.

    While `variable` is unset the route is Forbidden, or open to all with
    `open_when_unset`; once set, a request without the key is Unauthorized.
    """
    if not key:
        if open_when_unset:
            return
        raise Forbidden(f"{route} is disabled; set {variable} to enable it")
    if token is None or not hmac.compare_digest(token.encode(), key.encode()):
        raise Unauthorized(f"{route} needs Authorization: Bearer {variable}")


@frozen
class KeyedRequest:
    """A request to a route behind a Bearer key: the key presented, and the parameters still as text, to be
    read only once the key is right."""

    token: str | None
    params: dict

    @classmethod
    def of(cls, incoming) -> "KeyedRequest":
        return cls(token=bearer_token(incoming.headers), params=dict(incoming.params))


class WrongKeys:
    """Wrong or missing keys, counted per client address: WRONG_KEYS_PER_MINUTE at once, then one a few seconds.

    A client past its count gets 429 on every route behind a key until one
    comes back, whatever key it presents: a guess that happened to be right
    must not get through either, or refusing the wrong ones would slow no one.
    Memory is bounded as the rate limiter's is.
    """

    def __init__(self, per_minute: int = WRONG_KEYS_PER_MINUTE, *, clock: Callable[[], float] = time.monotonic):
        self._per_minute = per_minute
        self._clock = clock
        self._buckets: TTLCache = TTLCache(maxsize=_MAX_CLIENTS, ttl=_MINUTE, timer=clock)

    def check(self, client: str) -> None:
        """Raise RateLimited, with the headers it takes, while the client has no wrong key left to try."""
        level = self._level(client)
        if level >= 1:
            return
        wait = max(1, math.ceil((1 - level) * _MINUTE / self._per_minute))
        headers = {
            "Retry-After": str(wait),
            "X-RateLimit-Limit": str(self._per_minute),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(wait),
        }
        raise RateLimited(f"too many wrong keys from this client; try again in {wait} s", headers=headers)

    def failed(self, client: str) -> None:
        """Count one wrong or missing key."""
        self._buckets[client] = (max(0.0, self._level(client) - 1), self._clock())

    def _level(self, client: str) -> float:
        level, at = self._buckets.get(client, (float(self._per_minute), self._clock()))
        return min(float(self._per_minute), level + (self._clock() - at) * self._per_minute / _MINUTE)
