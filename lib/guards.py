"""What protects one pool of clients: a breaker per dependency, the per-client rate limits, the day's token budget.

The guards live exactly as long as the pool they protect: made from its
configuration on first use, dropped when the pool is. A test that opens a
fresh pool starts with closed breakers and full buckets.
"""

from __future__ import annotations

import weakref
from functools import partial

from attrs import define

from lib import monitoring
from lib.breaker import CircuitBreaker
from lib.config import Config
from lib.ratelimit import RateLimiter, TokenBudget


@define
class Guards:
    limiter: RateLimiter
    budget: TokenBudget
    openai: CircuitBreaker
    qdrant: CircuitBreaker
    database: CircuitBreaker

    @classmethod
    def from_config(cls, config: Config) -> "Guards":
        def breaker(name: str, service: str) -> CircuitBreaker:
            return CircuitBreaker(
                name,
                failures=config.breaker_failures,
                cooldown=config.breaker_cooldown_seconds,
                on_failure=partial(monitoring.dependency_failed, service),
            )

        return cls(
            limiter=RateLimiter(config.rate_limit_per_minute, config.rate_limit_per_day),
            budget=TokenBudget(config.daily_token_budget),
            openai=breaker("the OpenAI API", "openai"),
            qdrant=breaker("the vector store", "qdrant"),
            database=breaker("the database", "database"),
        )


_BY_POOL: dict[int, Guards] = {}


def guards(clients) -> Guards:
    """The guards of this pool of clients."""
    key = id(clients)
    found = _BY_POOL.get(key)
    if found is None:
        found = _BY_POOL[key] = Guards.from_config(clients.config)
        # Forget them with the pool, before its id can be given to another object.
        weakref.finalize(clients, _BY_POOL.pop, key, None)
    return found
