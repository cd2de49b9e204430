"""lib/ratelimit.py on its own: whose request it is, token buckets at their edges, the day's token budget."""

from __future__ import annotations

import tracemalloc

import pytest

from lib.ratelimit import MAX_CLIENTS, RateLimiter, TokenBudget, client_address


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "peer, forwarded_for, trusted, expected",
    [
        ("10.0.0.7", None, 0, "10.0.0.7"),
        ("10.0.0.7", "203.0.113.9", 0, "10.0.0.7"),  # no proxy trusted: the header is the client's own words
        ("10.0.0.7", "203.0.113.9", 1, "203.0.113.9"),
        ("10.0.0.7", "6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # a spoofed entry left of the trusted one
        ("10.0.0.7", "6.6.6.6, 203.0.113.9, 10.1.1.1", 2, "203.0.113.9"),
        ("10.0.0.7", "203.0.113.9", 2, "203.0.113.9"),  # fewer hops than proxies: the furthest one written
        ("10.0.0.7", "not-an-address", 1, "10.0.0.7"),
        ("10.0.0.7", "203.0.113.9:4711", 1, "203.0.113.9"),
        ("10.0.0.7", "[2001:db8:1:2:3:4:5:6]:443", 1, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::99", None, 0, "2001:db8:1:2::/64"),  # a subscriber's /64 is one client
        ("::ffff:192.0.2.1", None, 0, "192.0.2.1"),
        (None, None, 0, "unknown"),
        ("10.0.0.7", " , ,", 1, "10.0.0.7"),
    ],
)
def test_finds_the_client_behind_the_trusted_proxies_only(peer, forwarded_for, trusted, expected):
    assert client_address(peer, forwarded_for, trusted) == expected


def test_lets_exactly_the_limit_through_then_refuses_with_retry_after():
    clock = Clock()
    limiter = RateLimiter(per_minute=5, per_day=0, clock=clock)
    verdicts = [limiter.take("a") for _ in range(6)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    assert [v.remaining for v in verdicts] == [4, 3, 2, 1, 0, 0]
    refused = verdicts[-1]
    assert refused.retry_after == 12 and refused.headers()["Retry-After"] == "12"  # one token every 12 s
    assert refused.headers()["X-RateLimit-Limit"] == "5" and refused.reset == 60
    assert limiter.take("b").allowed  # another client has its own bucket
    clock.now += 11.9
    assert not limiter.take("a").allowed
    clock.now += 0.2
    assert limiter.take("a").allowed


def test_a_refused_request_takes_nothing_and_the_day_limit_holds_over_minutes():
    clock = Clock()
    limiter = RateLimiter(per_minute=10, per_day=12, clock=clock)
    assert sum(limiter.take("a").allowed for _ in range(20)) == 10
    clock.now += 60
    allowed = [limiter.take("a").allowed for _ in range(20)]
    assert sum(allowed) == 2  # the day's bucket had two left
    verdict = limiter.take("a")
    assert verdict.limit == 12 and verdict.remaining == 0 and verdict.retry_after > 60


def test_the_headers_speak_of_the_limit_closest_to_running_out():
    limiter = RateLimiter(per_minute=100, per_day=3, clock=Clock())
    verdict = limiter.take("a")
    assert (verdict.limit, verdict.remaining) == (3, 2)


def test_no_limit_means_no_verdict():
    assert RateLimiter(0, 0).take("a") is None and not RateLimiter(0, 0).enabled


def test_memory_is_bounded_by_the_number_of_clients_kept():
    kept = 5000
    tracemalloc.start()
    try:
        limiter = RateLimiter(per_minute=30, per_day=1000, max_clients=kept, clock=Clock())
        for n in range(kept + 1000):
            limiter.take(f"198.51.{n // 256 % 256}.{n % 256} key:0123456789ab")
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(limiter) == kept
    each = held / kept
    print(f"rate limiter: {each:.0f} bytes a client; at most {each * MAX_CLIENTS / 2**20:.1f} MiB for MAX_CLIENTS={MAX_CLIENTS}")
    assert each * MAX_CLIENTS < 16 * 2**20


def test_a_full_bucket_is_forgotten_after_its_period():
    clock = Clock()
    limiter = RateLimiter(per_minute=5, per_day=0, clock=clock)
    limiter.take("a")
    clock.now += 61
    limiter.take("b")
    assert len(limiter) == 1


def test_the_token_budget_runs_out_then_starts_again_at_midnight_utc():
    clock = Clock(now=86_400 * 20_000 + 86_000)  # 400 s before midnight UTC
    budget = TokenBudget(1000, clock=clock)
    budget.spend(600)
    assert not budget.exhausted
    budget.spend(400)
    assert budget.exhausted and budget.resets_in() == 400
    clock.now += 401
    assert not budget.exhausted and budget.spent == 0


def test_a_budget_of_zero_is_no_budget():
    budget = TokenBudget(0)
    budget.spend(10**9)
    assert not budget.exhausted
