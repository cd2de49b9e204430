"""The service's Prometheus metrics: one registry per client pool, in the text format a scraper reads.

Two kinds of numbers, kept apart on purpose:

- what only the request path knows (its route, status and time; an answer's
  mode; the model's tokens; an indexing run) is counted as it happens, by
  instruments whose labelled children are made once and then reused;
- what the pool counts anyway (each cache's hits and misses, each
  dependency's breaker, the rate limiter, the token budget, the retrieval
  gate, the answer log) is read when a scraper asks, by `_PoolCollector`,
  and costs a request nothing.

Every label takes a bounded set of values: a route is a template (`/v1/query`,
never a raw path), `static` or `unmatched`; a method one of `_METHODS` or
`other`; a status a number.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from lib import __version__
from lib.breaker import CLOSED

# No `_created` series: the text format has no place for them but as gauges of their own, one per counter.
disable_created_metrics()

# The classic text format, which every Prometheus reads (the library's "latest" is 1.0.0, for UTF-8 names).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
STATIC = "static"  # a file of a static folder: one label for all of them
UNMATCHED = "unmatched"  # no route: a raw path would let any client make new series
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
# From a cache hit (milliseconds) to a streamed answer (up to OPENAI_TIMEOUT, 30 s by default).
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The answer log's counters (lib/storage/answer_log.py), as metrics: name, type, help.
_ANSWER_LOG = {
    "answers_logged": ("bookbot_answers_logged", "counter", "Answers the answer log has written to the database"),
    "answer_log_failures": ("bookbot_answer_log_failures", "counter", "Answers the answer log failed to write"),
    "answers_dropped": (
        "bookbot_answers_dropped", "counter", "Answers dropped because the answer log fell behind or was closed"
    ),
    "answers_pending": ("bookbot_answer_log_pending", "gauge", "Answers queued for the answer log"),
}


class Metrics:
    """One pool's instruments, in a registry of its own: two apps in one process (or two tests) never mix."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "bookbot_requests", "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"), registry=self.registry,
        )
        self._request_seconds = Histogram(
            "bookbot_request_duration_seconds", "Time to answer a request (a stream: until it ends)",
            ("route", "method"), buckets=_SECONDS, registry=self.registry,
        )
        self._query_seconds = Histogram(
            "bookbot_query_duration_seconds",
            "Time to answer a question, by answer mode (rag, selected_text, extractive, refusal) and whether a cache served it",
            ("mode", "cached"), buckets=_SECONDS, registry=self.registry,
        )
        self._refusals = Counter(
            "bookbot_refusals", "Questions refused because the book does not support an answer, by reason",
            ("reason",), registry=self.registry,
        )
        self._tokens = Counter(
            "bookbot_model_tokens", "Model tokens spent, by configured model and kind (prompt, completion)",
            ("model", "kind"), registry=self.registry,
        )
        self._index_runs = Counter(
            "bookbot_index_runs", "Start-up indexing runs of BOOK_DIR, by outcome (ok, failed)", ("outcome",),
            registry=self.registry,
        )
        self._index_chunks = Counter(
            "bookbot_index_chunks", "Chunks the start-up indexing changed, by change (added, updated, removed)",
            ("change",), registry=self.registry,
        )
        Info("bookbot", "The service's version", registry=self.registry).info({"version": __version__})
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        # Labelled children, made once: prometheus_client's labels() takes a lock and builds a key every time.
        self._request_children: dict[tuple[str, str, int], tuple] = {}
        self._query_children: dict[tuple[str, bool], Any] = {}

    def watch(self, clients) -> None:
        """Export what `clients` counts anyway, read at each scrape; the pool is not kept alive by it."""
        self.registry.register(_PoolCollector(clients))

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request: `route` is its template, STATIC or UNMATCHED."""
        method = method if method in _METHODS else "other"
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self._requests.labels(route, method, str(status)),
                self._request_seconds.labels(route, method),
            )
        count, duration = children
        count.inc()
        duration.observe(seconds)

    def query(self, mode: str, cached: bool, seconds: float, refusal_reason: str | None) -> None:
        """One answer served (a cache hit too), with its latency and its refusal reason, if refused."""
        duration = self._query_children.get((mode, cached))
        if duration is None:
            duration = self._query_seconds.labels(mode, "true" if cached else "false")
            self._query_children[mode, cached] = duration
        duration.observe(seconds)
        if refusal_reason:
            self._refusals.labels(refusal_reason).inc()

    def tokens(self, model: str, prompt: int, completion: int = 0) -> None:
        """Tokens a model call reported spending."""
        if prompt:
            self._tokens.labels(model, "prompt").inc(prompt)
        if completion:
            self._tokens.labels(model, "completion").inc(completion)

    def indexed(self, added: int, updated: int, removed: int) -> None:
        self._index_runs.labels("ok").inc()
        for change, count in (("added", added), ("updated", updated), ("removed", removed)):
            self._index_chunks.labels(change).inc(count)

    def index_failed(self) -> None:
        self._index_runs.labels("failed").inc()

    def exposition(self, answer_log: Mapping[str, int]) -> bytes:
        """Every metric in the text format; `answer_log` is the store's stats(), which only an await can read."""
        return generate_latest(_Scrape(self.registry, answer_log))


class _Scrape:
    """The registry's metrics and the answer log's, as one collector for generate_latest."""

    def __init__(self, registry: CollectorRegistry, answer_log: Mapping[str, int]):
        self._registry = registry
        self._answer_log = answer_log

    def collect(self) -> Iterable[Metric]:
        yield from self._registry.collect()
        for key, (name, kind, documentation) in _ANSWER_LOG.items():
            if key in self._answer_log:
                family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                yield family(name, documentation, value=self._answer_log[key])


class _PoolCollector(Collector):
    """What the pool counts anyway, read when a scraper asks: caches, breakers, limits, the retrieval gate."""

    def __init__(self, clients):
        self._clients = weakref.ref(clients)

    def collect(self) -> Iterable[Metric]:
        clients = self._clients()
        if clients is None:
            return
        guard = clients.guards
        yield from _caches(clients.caches.stats())
        yield from _dependencies(guard)
        yield from _limits(guard)
        yield CounterMetricFamily(
            "bookbot_retrieval_turned_away",
            "Questions answered 503 because every retrieval slot stayed busy",
            value=clients.retrieval_gate.turned_away,
        )
        indexing = int(clients.indexing is not None)
        yield GaugeMetricFamily("bookbot_indexing", "1 while the start-up indexing of BOOK_DIR runs", value=indexing)


def _caches(stats: Mapping[str, Mapping]) -> Iterable[Metric]:
    lookups = CounterMetricFamily(
        "bookbot_cache_lookups",
        "Cache lookups by cache and result: hit, miss (computed), shared (waited for a computation under way)",
        labels=("cache", "result"),
    )
    entries = GaugeMetricFamily("bookbot_cache_entries", "Entries held by each cache", labels=("cache",))
    for name, cache in stats.items():
        for result, key in (("hit", "hits"), ("miss", "misses"), ("shared", "shared")):
            lookups.add_metric((name, result), cache[key])
        entries.add_metric((name,), cache["size"])
    return lookups, entries


def _dependencies(guard) -> Iterable[Metric]:
    service = ("service",)
    errors = CounterMetricFamily(
        "bookbot_dependency_errors", "Failed calls to a dependency, as its circuit breaker counts them", labels=service
    )
    refused = CounterMetricFamily(
        "bookbot_dependency_refused", "Calls not made because the dependency's circuit was open", labels=service
    )
    open_ = GaugeMetricFamily(
        "bookbot_circuit_open", "1 while the dependency's circuit is open or half-open", labels=service
    )
    for name, breaker in (("openai", guard.openai), ("qdrant", guard.qdrant), ("database", guard.database)):
        errors.add_metric((name,), breaker.failed_calls)
        refused.add_metric((name,), breaker.refused_calls)
        open_.add_metric((name,), int(breaker.state != CLOSED))
    return errors, refused, open_


def _limits(guard) -> Iterable[Metric]:
    return (
        CounterMetricFamily(
            "bookbot_rate_limited",
            "Requests refused with 429 by RATE_LIMIT_PER_MINUTE or RATE_LIMIT_PER_DAY",
            value=guard.limiter.refused,
        ),
        GaugeMetricFamily("bookbot_rate_limit_clients", "Clients the rate limiter tracks", value=len(guard.limiter)),
        GaugeMetricFamily(
            "bookbot_token_budget_spent",
            "Model tokens spent today (UTC), against DAILY_TOKEN_BUDGET",
            value=guard.budget.spent,
        ),
        GaugeMetricFamily("bookbot_token_budget", "DAILY_TOKEN_BUDGET (0: no budget)", value=guard.budget.per_day),
    )
