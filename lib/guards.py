"""What protects one pool of clients: a breaker per dependency, the per-client rate limits, the day's token budget,
the count of wrong keys.

The guards are a field of the pool (`clients.guards`), made from its
configuration with it: a test that opens a fresh pool starts with closed
breakers and full buckets.
"""

from __future__ import annotations

from functools import partial

from attrs import define, field

from lib import monitoring
from lib.access import WrongKeys
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
    wrong_keys: WrongKeys = field(factory=WrongKeys)

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
