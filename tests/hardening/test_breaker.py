"""lib/breaker.py on its own: when a breaker opens, lets one trial through, and closes again."""

from __future__ import annotations

import asyncio

import pytest

from lib.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen, retrying
from lib.errors import InvalidRequest, Unavailable
from lib.storage import GuardedStore


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker, error: Exception = ConnectionError("down")) -> None:
    with pytest.raises(type(error)):
        with breaker.call():
            raise error


def test_opens_after_the_threshold_of_failures_in_a_row():
    breaker = CircuitBreaker("dep", failures=3, cooldown=10, clock=Clock())
    fail(breaker)
    fail(breaker)
    with breaker.call():
        pass  # a success in between starts the count again
    fail(breaker)
    fail(breaker)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    with pytest.raises(CircuitOpen) as refused:
        breaker.call()
    assert refused.value.retry_after_seconds == 10


def test_lets_one_trial_through_after_the_cooldown():
    clock = Clock()
    breaker = CircuitBreaker("dep", failures=1, cooldown=5, clock=clock)
    fail(breaker)
    clock.now = 5
    assert breaker.state == HALF_OPEN
    trial = breaker.call()
    with pytest.raises(CircuitOpen):
        breaker.call()  # a second caller while the trial is out
    with trial:
        pass
    assert breaker.state == CLOSED and breaker.failures == 0


def test_a_failed_trial_opens_it_for_another_cooldown():
    clock = Clock()
    breaker = CircuitBreaker("dep", failures=2, cooldown=5, clock=clock)
    fail(breaker)
    fail(breaker)
    clock.now = 6
    fail(breaker)
    assert breaker.state == OPEN and breaker.retry_after() == 5


def test_an_abandoned_call_counts_neither_way_and_frees_the_trial():
    clock = Clock()
    breaker = CircuitBreaker("dep", failures=1, cooldown=5, clock=clock)
    fail(breaker)
    clock.now = 5
    with pytest.raises(asyncio.CancelledError):
        with breaker.call():
            raise asyncio.CancelledError()
    assert breaker.state == HALF_OPEN
    with breaker.call():
        pass
    assert breaker.state == CLOSED


def test_a_refused_request_is_not_the_dependency_failing():
    breaker = CircuitBreaker("dep", failures=1, cooldown=5, clock=Clock())
    with pytest.raises(ValueError):
        with breaker.call(counts=lambda error: not isinstance(error, ValueError)):
            raise ValueError("our own bad request")
    assert breaker.state == CLOSED


@pytest.mark.anyio
async def test_retries_a_call_safe_to_repeat_once_after_a_jittered_pause():
    attempts = []

    async def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("reset")
        return "ok"

    assert await retrying(flaky, attempts=2, base_delay=0.001) == "ok" and len(attempts) == 2

    async def down():
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await retrying(down, attempts=3, base_delay=0.001)


class _Store:
    def __init__(self):
        self.calls = 0
        self.down = True

    async def ping(self):
        self.calls += 1
        if self.down:
            raise Unavailable("the feedback database is unavailable; try again shortly")

    async def list_feedback(self, **_):
        raise InvalidRequest("limit must be from 1 to 500", field="limit")

    def log_answer(self, record):
        return "queued"


@pytest.mark.anyio
async def test_a_guarded_store_fails_fast_once_the_database_is_known_down():
    clock = Clock()
    store = _Store()
    guarded = GuardedStore(store, CircuitBreaker("the database", failures=2, cooldown=3, clock=clock))
    for _ in range(3):
        with pytest.raises(InvalidRequest):
            await guarded.list_feedback(limit=0)  # a bad argument is no outage
    assert guarded.breaker.state == CLOSED
    for _ in range(2):
        with pytest.raises(Unavailable):
            await guarded.ping()
    with pytest.raises(Unavailable) as fast:
        await guarded.ping()
    assert store.calls == 2 and fast.value.headers["Retry-After"] == "3"
    assert guarded.log_answer("record") == "queued"
    store.down, clock.now = False, 3
    await guarded.ping()
    assert guarded.breaker.state == CLOSED and store.calls == 3
