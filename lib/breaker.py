"""Circuit breakers: a dependency that keeps failing is left alone for a while, so requests fail fast.

Closed, every call goes through. After BREAKER_FAILURES failures in a row the
breaker opens: calls are refused at once, without touching the dependency,
for BREAKER_COOLDOWN_SECONDS. Then it is half-open: one trial call goes
through; if it succeeds the breaker closes, if it fails it opens again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Awaitable, Callable, TypeVar

log = logging.getLogger("bookbot")

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpen(Exception):
    """Raised when a call is refused untried because its dependency failed repeatedly just now."""

    def __init__(self, name: str, retry_after: float):
        super().__init__(f"{name} failed repeatedly; not trying it again for {retry_after:.1f} s")
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        """For a Retry-After header: whole seconds, at least one."""
        return max(1, math.ceil(self.retry_after))


class CircuitBreaker:
    """One dependency's breaker. Use `with breaker.call():` around each call to it."""

    def __init__(
        self,
        name: str,
        *,
        failures: int = 5,
        cooldown: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        on_failure: Callable[[BaseException, int], None] | None = None,
    ):
        self.name = name
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._on_failure = on_failure  # told of each failure, with the count of failures in a row
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is under way
        # Since the process started, for /metrics.
        self.failed_calls = 0
        self.refused_calls = 0

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        return HALF_OPEN if self._clock() - self._opened_at >= self._cooldown else OPEN

    @property
    def failures(self) -> int:
        return self._failures

    def retry_after(self) -> float:
        """Seconds until the breaker lets a trial call through (0 when closed)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._cooldown - self._clock())

    def describe(self) -> str:
        """The breaker's state in a few words, for /health."""
        state = self.state
        if state == CLOSED:
            return "closed"
        return f"{self._failures} failures in a row; next try in {math.ceil(self.retry_after())} s"

    def call(self, counts: Callable[[BaseException], bool] = lambda error: True) -> "_Call":
        """A context manager around one call: refuses with CircuitOpen, then records how the call ended.

        `counts(error)` says whether an exception is the dependency's failure
        (a refused request of ours is not). A call abandoned by cancellation or
        by a reader that stopped reading is recorded as neither.
        """
        state = self.state
        if state == OPEN or (state == HALF_OPEN and self._trial):
            self.refused_calls += 1
            raise CircuitOpen(self.name, self.retry_after() or self._cooldown)
        trial = state == HALF_OPEN
        if trial:
            self._trial = True
        return _Call(self, trial, counts)

    def _succeeded(self) -> None:
        if self._opened_at is not None:
            log.info("%s answers again: circuit closed", self.name)
        self._failures, self._opened_at = 0, None

    def _failed(self, trial: bool, error: BaseException) -> None:
        self._failures += 1
        self.failed_calls += 1
        if trial or (self._opened_at is None and self._failures >= self._threshold):
            if self._opened_at is None:
                log.warning("%s failed %d times in a row: circuit open for %g s", self.name, self._failures, self._cooldown)
            self._opened_at = self._clock()
        if self._on_failure is not None:
            self._on_failure(error, self._failures)


class _Call:
    def __init__(self, breaker: CircuitBreaker, trial: bool, counts: Callable[[BaseException], bool]):
        self._breaker = breaker
        self._trial = trial
        self._counts = counts

    def __enter__(self) -> "_Call":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        breaker = self._breaker
        if self._trial:
            breaker._trial = False
        if error is None:
            breaker._succeeded()
        elif isinstance(error, (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt)):
            pass  # abandoned, not failed
        elif self._counts(error):
            breaker._failed(self._trial, error)
        else:
            breaker._succeeded()  # the dependency answered; the request was at fault


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 2,
    retry_on: tuple[type[BaseException], ...] = (ConnectionError,),
    base_delay: float = 0.05,
) -> T:
    """`await call()`, again after a jittered pause when it raises `retry_on`: only for calls safe to repeat."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except retry_on:
            if attempt == attempts:
                raise
            # Full jitter: callers that failed together don't come back together.
            await asyncio.sleep(random.uniform(0, base_delay * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")
