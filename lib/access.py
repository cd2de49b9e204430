"""API keys: when API_KEYS is set, the answering routes want one of them; the admin routes want ADMIN_API_KEY,
and /metrics METRICS_API_KEY when it is set."""

from __future__ import annotations

import hashlib
import hmac

from attrs import frozen

from lib.errors import Forbidden, Unauthorized

KEY_REQUIRED = "this route needs an API key: Authorization: Bearer KEY or X-API-Key: KEY"


def presented_key(headers) -> str | None:
    """The key a request carries, as `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return (headers.get("x-api-key") or "").strip() or None


def key_id(key: str) -> str:
    """A key's non-secret id, for the logs, the rate limiter and the answer cache's scope."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


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
