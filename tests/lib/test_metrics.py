"""lib/metrics.py: a registry per pool, what the pool counts read at scrape time, labels kept bounded."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from lib.breaker import CircuitOpen
from lib.clients import Clients
from lib.config import REPO_ROOT, Config
from lib.metrics import Metrics
from tests.parts import pool

FIXTURE_BOOK = REPO_ROOT / "tests" / "fixtures" / "book"
ANSWER_LOG = {"answers_logged": 7, "answer_log_failures": 1, "answers_dropped": 2, "answers_pending": 3}


def samples(metrics: Metrics, answer_log=ANSWER_LOG) -> dict:
    text = metrics.exposition(answer_log).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def bare_pool(**config) -> Clients:
    """A pool with nothing opened: its caches, guards and gate are all these tests need."""
    return Clients(config=Config(**config), store=None)


def test_each_pool_counts_in_a_registry_of_its_own():
    first, second = bare_pool(), bare_pool()
    first.metrics.request("/health", "GET", 200, 0.01)
    first.metrics.request("/health", "GET", 200, 0.02)
    counted = ("bookbot_requests_total", (("method", "GET"), ("route", "/health"), ("status", "200")))
    assert samples(first.metrics)[counted] == 2
    assert counted not in samples(second.metrics)
    assert REGISTRY.get_sample_value("bookbot_requests_total", {"method": "GET", "route": "/health", "status": "200"}) is None


def test_what_the_pool_counts_anyway_is_read_when_scraped():
    clients = bare_pool(breaker_failures=1, rate_limit_per_minute=1)
    clients.caches.answers.get("never asked")
    clients.caches.health.put("report", "ok")
    clients.caches.health.get("report")
    guard = clients.guards
    with pytest.raises(ConnectionError), guard.qdrant.call():
        raise ConnectionError("refused")
    with pytest.raises(CircuitOpen):
        guard.qdrant.call()
    guard.limiter.take("192.0.2.1")
    guard.limiter.take("192.0.2.1")
    found = samples(clients.metrics)
    assert found[("bookbot_cache_lookups_total", (("cache", "answers"), ("result", "miss")))] == 1
    assert found[("bookbot_cache_lookups_total", (("cache", "health"), ("result", "hit")))] == 1
    assert found[("bookbot_cache_entries", (("cache", "health"),))] == 1
    assert found[("bookbot_dependency_errors_total", (("service", "qdrant"),))] == 1
    assert found[("bookbot_dependency_refused_total", (("service", "qdrant"),))] == 1
    assert found[("bookbot_circuit_open", (("service", "qdrant"),))] == 1
    assert found[("bookbot_circuit_open", (("service", "openai"),))] == 0
    assert found[("bookbot_rate_limited_total", ())] == 1 and found[("bookbot_rate_limit_clients", ())] == 1
    assert found[("bookbot_answers_logged_total", ())] == 7 and found[("bookbot_answer_log_pending", ())] == 3


def test_an_unknown_method_is_one_label_and_every_answer_mode_has_its_histogram():
    metrics = Metrics()
    metrics.request("unmatched", "BREW", 405, 0.001)
    metrics.query("rag", True, 0.002, None)
    metrics.query("rag", False, 0.3, "low_score")
    found = samples(metrics)
    assert found[("bookbot_requests_total", (("method", "other"), ("route", "unmatched"), ("status", "405")))] == 1
    assert found[("bookbot_query_duration_seconds_count", (("cached", "true"), ("mode", "rag")))] == 1
    assert found[("bookbot_query_duration_seconds_bucket", (("cached", "false"), ("le", "0.25"), ("mode", "rag")))] == 0
    assert found[("bookbot_query_duration_seconds_bucket", (("cached", "false"), ("le", "0.5"), ("mode", "rag")))] == 1
    assert found[("bookbot_refusals_total", (("reason", "low_score"),))] == 1


@pytest.mark.anyio
async def test_the_start_up_indexing_run_and_its_chunks_are_counted(tmp_path):
    config = Config(data_dir=tmp_path / "data", book_dir=FIXTURE_BOOK, embeddings="none")
    async with pool(config) as clients:
        await asyncio.wait_for(asyncio.gather(*clients.background), 60)
        points = (await clients.vectors.describe()).points
        found = samples(clients.metrics)
    assert found[("bookbot_index_runs_total", (("outcome", "ok"),))] == 1
    assert found[("bookbot_index_chunks_total", (("change", "added"),))] == points > 0
    assert ("bookbot_index_runs_total", (("outcome", "failed"),)) not in found
    assert found[("bookbot_indexing", ())] == 0
