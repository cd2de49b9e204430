"""/metrics over real HTTP (`python router.py` on loopback), read with prometheus_client's own parser.

Each test scrapes before and after some traffic, and checks that the
samples moved by exactly what the traffic should have added.
"""

from __future__ import annotations

import re
import shutil

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lib.answer import refusal
from tests.hardening.checks import assert_error
from tests.service import Service

METRICS_KEY = "scraper-key-5d2a90"
SCRAPER = {"Authorization": f"Bearer {METRICS_KEY}"}
LIMIT = 3  # RATE_LIMIT_PER_MINUTE, per client
QUERY = {"route": "/v1/query", "method": "POST"}


@pytest.fixture(scope="module")
def service(tmp_path_factory, dense_index, openai_server):
    data_dir = tmp_path_factory.mktemp("metrics") / "data"
    shutil.copytree(dense_index.data_dir, data_dir)
    env = {
        "DATA_DIR": str(data_dir),
        "OPENAI_BASE_URL": openai_server.base_url,
        "METRICS_API_KEY": METRICS_KEY,
        "ANSWER_CACHE_SECONDS": "900",
        "RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "RATE_LIMIT_PER_DAY": "0",
        "TRUSTED_PROXIES": "1",  # so that each test's reader is a client of its own, by X-Forwarded-For
    }
    with Service(env, log_path=data_dir.parent / "service.log") as running:
        yield running


@pytest.fixture
def http(service, fake_openai):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        yield client


class Samples:
    """One scrape, parsed: a sample's value by its name and labels (0 for a sample not there yet)."""

    def __init__(self, text: str):
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self._values = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in self.families.values()
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self._values.get((name, frozenset(labels.items())), 0.0)

    def __sub__(self, before: "Samples"):
        """How far each sample moved since `before`: (after - before)(name, **labels)."""
        return lambda name, **labels: self(name, **labels) - before(name, **labels)

    def labels(self, name: str, label: str) -> set[str]:
        return {dict(labels)[label] for sample, labels in self._values if sample == name}


def scrape(http: httpx.Client) -> Samples:
    response = http.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    return Samples(response.text)


def ask(http: httpx.Client, reader: str, question: str, **fields) -> dict:
    response = http.post("/v1/query", json={"query": question, **fields}, headers={"X-Forwarded-For": reader})
    assert response.status_code == 200, response.text
    return response.json()


def words(text: str) -> int:
    """Tokens as the loopback model counts them."""
    return len(re.findall(r"\w+", text.lower()))


def test_the_scrape_is_prometheus_text_for_the_scraper_with_the_key(http):
    assert_error(http.get("/metrics"), 401, "unauthorized")
    assert_error(http.get("/metrics", headers={"Authorization": "Bearer not-the-key"}), 401, "unauthorized")
    assert_error(http.get("/metrics", headers={"X-API-Key": METRICS_KEY}), 401, "unauthorized")
    response = http.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = Samples(response.text).families
    assert families["bookbot_requests"].type == "counter"
    assert families["bookbot_query_duration_seconds"].type == "histogram"
    assert families["bookbot_cache_lookups"].type == "counter" and families["process_resident_memory_bytes"]


def test_answers_count_their_requests_latency_and_tokens(http, fake_openai):
    questions = ["What is a chunk?", "How do I index my own book?", "What does the health route report?"]
    before = scrape(http)
    bodies = [ask(http, f"10.0.1.{n}", question) for n, question in enumerate(questions)]
    moved = scrape(http) - before
    assert all(body["mode"] == "rag" and not body["cached"] for body in bodies)
    assert moved("bookbot_requests_total", **QUERY, status="200") == 3
    assert moved("bookbot_request_duration_seconds_count", **QUERY) == 3
    assert moved("bookbot_query_duration_seconds_count", mode="rag", cached="false") == 3
    assert moved("bookbot_query_duration_seconds_sum", mode="rag", cached="false") > 0
    prompt = sum(body["usage"]["prompt_tokens"] for body in bodies)
    completion = sum(body["usage"]["completion_tokens"] for body in bodies)
    assert moved("bookbot_model_tokens_total", model="gpt-4o-mini", kind="prompt") == prompt > 0
    assert moved("bookbot_model_tokens_total", model="gpt-4o-mini", kind="completion") == completion > 0
    # each question embedded once, and the refusal's probe questions once for the index version
    embedded = sum(words(question) for question in questions) + sum(words(probe) for probe in refusal.PROBES)
    assert moved("bookbot_model_tokens_total", model="text-embedding-3-small", kind="prompt") == embedded
    assert moved("bookbot_cache_lookups_total", cache="answers", result="miss") == 3
    assert moved("bookbot_cache_lookups_total", cache="embeddings", result="miss") == 3
    assert moved("bookbot_dependency_errors_total", service="openai") == 0


def test_a_question_asked_again_is_a_cache_hit_that_costs_no_tokens(http):
    first = ask(http, "10.0.2.1", "Which variables does the service read?")
    before = scrape(http)
    again = ask(http, "10.0.2.2", "which variables does the service read")
    moved = scrape(http) - before
    assert again["cached"] and again["answer"] == first["answer"]
    assert moved("bookbot_cache_lookups_total", cache="answers", result="hit") == 1
    assert moved("bookbot_query_duration_seconds_count", mode="rag", cached="true") == 1
    assert moved("bookbot_query_duration_seconds_count", mode="rag", cached="false") == 0
    assert moved("bookbot_model_tokens_total", model="gpt-4o-mini", kind="prompt") == 0


def test_a_streamed_answer_is_counted_when_it_ends(http):
    before = scrape(http)
    question = {"query": "What is Bookbot?", "stream": True}
    with http.stream("POST", "/v1/query", json=question, headers={"X-Forwarded-For": "10.0.3.1"}) as response:
        assert response.status_code == 200 and "event: done" in response.read().decode()
    moved = scrape(http) - before
    assert moved("bookbot_requests_total", **QUERY, status="200") == 1
    assert moved("bookbot_query_duration_seconds_count", mode="rag", cached="false") == 1


def test_health_checks_are_counted_and_served_from_their_cache(http):
    before = scrape(http)
    assert [http.get("/health").status_code for _ in range(2)] == [200, 200]
    moved = scrape(http) - before
    assert moved("bookbot_requests_total", route="/health", method="GET", status="200") == 2
    lookups = {result: moved("bookbot_cache_lookups_total", cache="health", result=result) for result in ("hit", "miss", "shared")}
    assert sum(lookups.values()) == 2 and lookups["hit"] >= 1  # the report lives 5 s: the second call at least is a hit


def test_a_greedy_client_is_counted_as_rate_limited(http):
    before = scrape(http)
    greedy = {"X-Forwarded-For": "10.9.9.9"}
    statuses = [http.post("/v1/query", json={}, headers=greedy).status_code for _ in range(LIMIT + 1)]
    after = scrape(http)
    moved = after - before
    assert statuses == [400] * LIMIT + [429]
    assert moved("bookbot_rate_limited_total") == 1
    assert moved("bookbot_requests_total", **QUERY, status="429") == 1
    assert moved("bookbot_requests_total", **QUERY, status="400") == LIMIT
    assert after("bookbot_rate_limit_clients") >= 1


def test_a_failing_model_is_counted_as_a_dependency_error_and_the_answer_as_extractive(http, fake_openai):
    fake_openai.fail_next(429, times=2, path="chat/completions")  # the SDK tries twice: one failed call
    before = scrape(http)
    body = ask(http, "10.0.4.1", "How do I run the tests?")
    after = scrape(http)
    moved = after - before
    assert body["mode"] == "extractive"
    assert moved("bookbot_dependency_errors_total", service="openai") == 1
    assert moved("bookbot_dependency_errors_total", service="qdrant") == 0
    assert moved("bookbot_query_duration_seconds_count", mode="extractive", cached="false") == 1
    assert after("bookbot_circuit_open", service="openai") == 0  # one failure of the five that open it


def test_labels_never_carry_a_raw_path_or_an_unknown_method(http):
    for path in ("/nowhere/1", "/nowhere/2", "/v1/query/extra"):
        assert_error(http.get(path), 404, "not_found")
    http.request("BREW", "/health")
    samples = scrape(http)
    routes = samples.labels("bookbot_requests_total", "route")
    assert "unmatched" in routes
    assert routes <= {"/v1/query", "/health", "/v1/feedback", "/metrics", "/openapi.json", "/docs", "/", "/widget.js",
                      "static", "unmatched"}
    methods = samples.labels("bookbot_requests_total", "method")
    assert "other" in methods and methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
