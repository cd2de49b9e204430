"""How much each client may ask, and how many model tokens the whole service may spend in a day.

A client is the address a request comes from (as the trusted proxies in front
of the service report it), with the id of its API key when it presents a valid
one. Each client has a token bucket per limit (a minute's and a day's): a
request takes one token from each, and tokens flow back at the limit's rate,
so a client may burst up to the limit and then goes at the average rate.
Buckets live in a TTLCache: memory is bounded by MAX_CLIENTS, and a bucket
left alone until it would be full again is simply forgotten.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Callable

from attrs import frozen
from cachetools import TTLCache

MAX_CLIENTS = 20_000
_MINUTE = 60.0
_DAY = 86_400.0
_IPV6_CLIENT_PREFIX = 64  # one subscriber gets a /64; counting its addresses one by one would be no limit at all


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address: the socket's peer, or what the outermost trusted proxy saw.

    Each proxy appends the address it got the request from to X-Forwarded-For,
    so with N trusted proxies the N-th entry from the right is the last one a
    trusted proxy wrote; whatever stands left of it the client wrote itself.
    """
    if trusted_proxies and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            written = hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
            address = _normalise(written)
            if address:
                return address
    return _normalise(peer or "") or "unknown"


def _normalise(text: str) -> str | None:
    """An address as a bucket key: ports dropped, IPv6 by its /64; None when it is no address."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{_IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


@frozen
class Verdict:
    """Whether one request may go ahead, and what the X-RateLimit-* headers tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the bucket is full again
    retry_after: int = 0  # seconds until a refused client may try again

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Token buckets per client for RATE_LIMIT_PER_MINUTE and RATE_LIMIT_PER_DAY; a limit of 0 is none."""

    def __init__(
        self,
        per_minute: int,
        per_day: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._limits = tuple((limit, period) for limit, period in ((per_minute, _MINUTE), (per_day, _DAY)) if limit > 0)
        self._clock = clock
        # An untouched bucket is full again after its period: forgetting it then changes nothing.
        longest = max((period for _, period in self._limits), default=_MINUTE)
        self._buckets: TTLCache = TTLCache(maxsize=max_clients, ttl=longest, timer=clock)
        self.refused = 0  # requests refused since the process started, for /metrics

    @property
    def enabled(self) -> bool:
        return bool(self._limits)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> Verdict | None:
        """Take a token from each of the client's buckets if every one has one; None when no limit is set."""
        if not self._limits:
            return None
        now = self._clock()
        tokens = self._buckets.get(client)
        if tokens is None:
            tokens = [float(limit) for limit, _ in self._limits]
        else:
            elapsed = now - tokens.pop()
            tokens = [min(limit, level + elapsed * limit / period) for level, (limit, period) in zip(tokens, self._limits)]
        allowed = all(level >= 1 for level in tokens)
        if allowed:
            tokens = [level - 1 for level in tokens]
        else:
            self.refused += 1
        self._buckets[client] = [*tokens, now]  # assigning again restarts the entry's time to live
        # The headers speak of the bucket closest to empty.
        level, (limit, period) = min(zip(tokens, self._limits), key=lambda pair: pair[0] / pair[1][0])
        rate = limit / period
        retry_after = 0
        if not allowed:
            retry_after = max(
                math.ceil((1 - level) * period / limit) for level, (limit, period) in zip(tokens, self._limits) if level < 1
            )
        return Verdict(
            allowed=allowed,
            limit=limit,
            remaining=int(level),
            reset=math.ceil((limit - level) / rate),
            retry_after=max(1, retry_after) if not allowed else 0,
        )


class TokenBudget:
    """The model tokens the whole service may spend per UTC day (DAILY_TOKEN_BUDGET; 0 is no budget).

    Counted per process, from the usage each completion reports. Calls already
    under way when the budget runs out still finish, so the day may end a few
    answers over it, never more than the calls in flight.
    """

    def __init__(self, per_day: int, *, clock: Callable[[], float] = time.time):
        self.per_day = per_day
        self._clock = clock
        self._day = self._today()
        self._spent = 0

    def _today(self) -> int:
        return int(self._clock() // _DAY)

    def _roll_over(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._spent = today, 0

    @property
    def spent(self) -> int:
        self._roll_over()
        return self._spent

    @property
    def exhausted(self) -> bool:
        return bool(self.per_day) and self.spent >= self.per_day

    def spend(self, tokens: int) -> None:
        self._roll_over()
        self._spent += max(0, int(tokens))

    def resets_in(self) -> int:
        """Seconds until the budget starts again, at 00:00 UTC."""
        return math.ceil((self._today() + 1) * _DAY - self._clock())
