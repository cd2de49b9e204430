"""API keys: when API_KEYS is set, the answering routes want one of them; the admin routes want ADMIN_API_KEY."""

from __future__ import annotations

import hashlib
import hmac

from lib.errors import Forbidden, Unauthorized

KEY_REQUIRED = "this route needs an API key: Authorization: Bearer KEY or X-API-Key: KEY"


def presented_key(headers) -> str | None:
    """The key a request carries, as `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return (headers.get("x-api-key") or "").strip() or None


def key_id(headers, keys: tuple[str, ...]) -> str | None:
    """A non-secret id of the configured key the request presents, or None when it presents none of them."""
    if not keys:
        return None
    presented = presented_key(headers)
    # Compare against every key, always, so the time taken says nothing about which one nearly matched.
    matched = False
    for key in keys:
        matched |= presented is not None and hmac.compare_digest(presented.encode(), key.encode())
    return hashlib.sha256(presented.encode()).hexdigest()[:12] if matched else None


def require_api_key(headers, keys: tuple[str, ...]) -> str | None:
    """Raise Unauthorized unless a configured key is presented; return a non-secret id of it."""
    if not keys:
        return None
    found = key_id(headers, keys)
    if found is None:
        raise Unauthorized(KEY_REQUIRED)
    return found


def bearer_token(headers) -> str | None:
    """The token of `Authorization: Bearer TOKEN`, if the request carries one (an admin's or a scraper's key)."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def require_admin_key(token: str | None, admin_key: str | None, route: str) -> None:
    """Forbidden while ADMIN_API_KEY is unset; Unauthorized unless `token` is it (compared in constant time)."""
    if not admin_key:
        raise Forbidden(f"{route} is disabled; set ADMIN_API_KEY to enable it")
    if token is None or not hmac.compare_digest(token.encode(), admin_key.encode()):
        raise Unauthorized(f"{route} needs Authorization: Bearer ADMIN_API_KEY")
