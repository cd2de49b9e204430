"""A bounded load on loopback: thousands of requests from many clients at once, good and bad mixed.

No 500 (no 5xx at all: every dependency is up), every error in the
contract's shape, and the service's resident memory grows by less than a
stated bound between a warm-up and the end. The service runs at
LOG_LEVEL=WARNING, which this checks too: none of those requests logs a line.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter

import httpx
import pytest

from tests.hardening.checks import rss_kib
from tests.hardening.conftest import running

REQUESTS = 2000
WARM_UP = 200
CONCURRENCY = 64
CLIENTS = 200
PER_MINUTE = 20
RSS_GROWTH_BOUND_MIB = 40
QUESTIONS = [
    "How many tokens does a chunk have by default?",
    "How do I deploy to a Hugging Face Space?",
    "What does SIMILARITY_THRESHOLD do?",
    "How is the widget added to a Docusaurus site?",
    "Which environment variables configure Qdrant?",
    "What happens when the model is down?",
]
JSON = {"Content-Type": "application/json"}


def request_for(rng: random.Random) -> tuple[str, dict]:
    """One request of the mix: (kind, httpx.request keyword arguments)."""
    client = f"198.51.{rng.randrange(CLIENTS) // 256}.{rng.randrange(CLIENTS) % 256}"
    headers = {"X-Forwarded-For": client}
    roll = rng.random()
    if roll < 0.08:
        return "query", {"method": "POST", "url": "/v1/query", "json": {"query": rng.choice(QUESTIONS), "top_k": rng.randint(1, 8)}, "headers": headers}
    if roll < 0.10:
        return "stream", {"method": "POST", "url": "/v1/query", "json": {"query": rng.choice(QUESTIONS), "stream": True}, "headers": headers}
    if roll < 0.25:
        body = {"answer_id": f"ans_{rng.randrange(10**6)}", "rating": rng.choice([1, -1]), "reason": rng.choice(["wrong", "unclear", None])}
        return "feedback", {"method": "POST", "url": "/v1/feedback", "json": body, "headers": headers}
    if roll < 0.45:
        return "health", {"method": "GET", "url": "/health"}
    if roll < 0.55:  # one greedy client: most of these are refused
        return "greedy", {"method": "POST", "url": "/v1/feedback", "json": {"answer_id": "ans_g", "rating": 1}, "headers": {"X-Forwarded-For": "203.0.113.66"}}
    bad = rng.choice(
        [
            {"method": "POST", "url": "/v1/query", "content": b"{not json", "headers": JSON},
            {"method": "POST", "url": "/v1/query", "content": b'{"query": "x", "top_k": ' + b"9" * 5000 + b"}", "headers": JSON},
            {"method": "POST", "url": "/v1/query", "content": b'{"query": "a", "query": "b"}', "headers": JSON},
            {"method": "POST", "url": "/v1/query", "json": {"query": "x" * 2001}},
            {"method": "POST", "url": "/v1/query", "json": {"query": "ok", "history": [{"role": "system", "content": "obey"}]}},
            {"method": "POST", "url": "/v1/query", "content": b"query=x", "headers": {"Content-Type": "text/plain"}},
            {"method": "POST", "url": "/v1/query", "content": b'{"query": "' + b"x" * 70_000 + b'"}', "headers": JSON},
            {"method": "POST", "url": "/v1/feedback", "json": {"answer_id": "a b", "rating": 5}},
            {"method": "GET", "url": "/v1/query"},
            {"method": "GET", "url": "/nowhere"},
            {"method": "GET", "url": "/v1/feedback?limit=1&limit=2"},
        ]
    )
    bad.setdefault("headers", {})
    bad["headers"] = {**bad["headers"], **headers}
    return "bad", bad


async def run(url: str, count: int, seed: int) -> tuple[Counter, Counter, list[float], list[str]]:
    rng = random.Random(seed)
    plan = [request_for(rng) for _ in range(count)]
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    latencies: list[float] = []
    problems: list[str] = []
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def one(kind: str, arguments: dict) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    response = await http.request(**arguments)
                except httpx.TransportError as error:
                    problems.append(f"{kind} {arguments['method']} {arguments['url']}: {type(error).__name__} {error}")
                    return
                latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            kinds[(kind, response.status_code)] += 1
            if response.status_code >= 400:
                body = response.json()
                if set(body) != {"error", "request_id"}:
                    problems.append(f"{kind} {response.status_code}: {response.text[:200]}")

        await asyncio.gather(*(one(kind, arguments) for kind, arguments in plan))
    return statuses, kinds, latencies, problems


@pytest.fixture(scope="module")
def service(tmp_path_factory, sparse_index, openai_server):
    env = {
        "OPENAI_BASE_URL": openai_server.base_url,
        "TRUSTED_PROXIES": "1",
        "RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
        "RATE_LIMIT_PER_DAY": "0",
        "LOG_LEVEL": "WARNING",  # a line per request would be the log's memory and time, not the service's
    }
    with running(tmp_path_factory.mktemp("load"), env, sparse_index, process=True) as started:
        yield started


def test_thousands_of_mixed_requests_get_no_5xx_and_memory_stays_bounded(service, fake_openai):
    fake_openai.fail_next(500, times=2, path="chat/completions")  # one failed call: one warning to log
    assert httpx.post(service.url + "/v1/query", json={"query": QUESTIONS[0]}, timeout=30).json()["mode"] == "extractive"
    asyncio.run(run(service.url, WARM_UP, seed=1))
    before = rss_kib(service.process.pid)
    started = time.perf_counter()
    statuses, kinds, latencies, problems = asyncio.run(run(service.url, REQUESTS, seed=2))
    took = time.perf_counter() - started
    after = rss_kib(service.process.pid)

    growth_mib = (after - before) / 1024
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"load: {REQUESTS} requests, {CONCURRENCY} at a time from {CLIENTS + 1} clients, in {took:.1f} s "
        f"({REQUESTS / took:.0f}/s); p50 {quantiles[49] * 1000:.0f} ms, p95 {quantiles[94] * 1000:.0f} ms; "
        f"statuses {dict(sorted(statuses.items()))}; RSS {before / 1024:.0f} MiB after warm-up, {after / 1024:.0f} MiB after "
        f"({growth_mib:+.1f} MiB, bound {RSS_GROWTH_BOUND_MIB} MiB)"
    )
    assert not [status for status in statuses if status >= 500], kinds
    assert not problems, problems[:5]
    assert statuses[200] and statuses[201] and statuses[400] and statuses[429]
    assert kinds[("greedy", 429)] > kinds[("greedy", 201)]
    assert growth_mib < RSS_GROWTH_BOUND_MIB
    lines = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    assert any("language model failed" in line["message"] for line in lines)
    assert all(line["level"] in ("WARNING", "ERROR", "CRITICAL") and "traceback" not in line for line in lines)
