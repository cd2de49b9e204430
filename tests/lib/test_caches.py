"""lib/caches.py: bounded in size and time, hits counted, one computation per key at a time."""

import asyncio

import pytest

from lib.caches import Cache, Caches, digest, normalise

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "text", ["What is a node?", "  what IS a   node ", "What is a node", "What is a node?!", "ＷＨＡＴ is a node"]
)
def test_normalises_case_spacing_closing_punctuation_and_width(text):
    assert normalise(text) == "what is a node"


def test_keeps_what_changes_the_meaning():
    assert normalise("What is a node?") != normalise("What is a topic?")
    assert normalise("C++") != normalise("C")


def test_digests_a_selection_the_way_it_normalises_it():
    assert digest("Some  selected TEXT.") == digest("some selected text") and len(digest("x")) == 32
    assert digest(None) is None


async def test_counts_hits_and_misses():
    cache = Cache("test", maxsize=10, ttl=60)

    async def compute():
        return "value"

    assert await cache.get_or_compute("key", compute) == ("value", False)
    assert await cache.get_or_compute("key", compute) == ("value", True)
    assert cache.get("other") is None
    assert cache.stats() == {
        "size": 1, "maxsize": 10, "ttl_seconds": 60, "hits": 1, "misses": 2, "shared": 0, "hit_rate": 0.3333
    }


async def test_shares_one_computation_among_concurrent_misses():
    cache = Cache("test", maxsize=10, ttl=60)
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    results = await asyncio.gather(*(cache.get_or_compute("key", compute) for _ in range(20)))
    assert calls == 1 and {value for value, _ in results} == {1}
    assert [hit for _, hit in results].count(False) == 1
    assert cache.stats()["shared"] == 19


async def test_never_stores_a_failure_and_tells_every_waiter():
    cache = Cache("test", maxsize=10, ttl=60)

    async def fail():
        await asyncio.sleep(0.01)
        raise RuntimeError("upstream down")

    results = await asyncio.gather(*(cache.get_or_compute("key", fail) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert cache.stats()["size"] == 0

    async def succeed():
        return "back"

    assert await cache.get_or_compute("key", succeed) == ("back", False)


async def test_stores_only_what_keep_accepts():
    cache = Cache("test", maxsize=10, ttl=60)

    async def compute():
        return "fallback"

    assert await cache.get_or_compute("key", compute, keep=lambda value: value != "fallback") == ("fallback", False)
    assert cache.get("key") is None


async def test_a_caller_that_goes_away_does_not_cancel_the_others():
    cache = Cache("test", maxsize=10, ttl=60)

    async def compute():
        await asyncio.sleep(0.05)
        return "done"

    leader = asyncio.create_task(cache.get_or_compute("key", compute))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(cache.get_or_compute("key", compute))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await follower == ("done", True)
    assert cache.get("key") == "done"


async def test_forgets_after_its_time_and_beyond_its_size():
    cache = Cache("test", maxsize=2, ttl=0.05)
    for key in "abc":
        cache.put(key, key)
    assert cache.stats()["size"] == 2 and cache.get("a") is None
    await asyncio.sleep(0.08)
    assert cache.get("c") is None


def test_the_indexer_clearing_health_forgets_the_collection_but_keeps_answers():
    caches = Caches()
    for cache in (caches.health, caches.collection, caches.answers, caches.embeddings):
        cache.put("key", "value")
    caches.index_changed()
    assert caches.health.get("key") is None and caches.collection.get("key") is None
    assert caches.answers.get("key") == "value" and caches.embeddings.get("key") == "value"
    assert set(caches.stats()) == {"embeddings", "answers", "collection", "health"}
