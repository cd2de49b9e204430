"""Faults injected into every dependency: the answer, the error and /health are what the contract says, and
the service recovers by itself.

The contract's order: the model down, answers are extractive; the database
down, answers are still served and feedback is 503; the vector store down,
queries are 503 with Retry-After. The model is the loopback FakeOpenAI, the
vector store a Qdrant front that can come and go, the database the
throwaway PostgreSQL cluster, stopped and started again.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time

import httpx
import pytest

from handlers import query
from tests.hardening.checks import assert_error, events, eventually
from tests.hardening.conftest import running
from tests.hardening.qdrant_front import QdrantFront
from tests.parts import pool
from tests.pg import fresh_database
from tests.service import free_port

QUESTION = {"query": "How many tokens does a chunk have by default?"}
FAILURES_TO_OPEN = 3
COOLDOWN = 1.0


@pytest.fixture(scope="module")
def service(tmp_path_factory, sparse_index, openai_server, pg_cluster):
    """The model on loopback, the book in local Qdrant, feedback in the throwaway PostgreSQL."""
    with fresh_database(pg_cluster.url) as database_url:
        env = {
            "OPENAI_BASE_URL": openai_server.base_url,
            "OPENAI_TIMEOUT": "1",
            "DATABASE_URL": database_url,
            "DATABASE_TIMEOUT": "2",
            "BREAKER_FAILURES": str(FAILURES_TO_OPEN),
            "BREAKER_COOLDOWN_SECONDS": str(COOLDOWN),
        }
        with running(tmp_path_factory.mktemp("faults"), env, sparse_index) as started:
            yield started


@pytest.fixture
def http(service, fake_openai):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def health(http: httpx.Client) -> httpx.Response:
    return http.get("/health")


def health_becomes(http: httpx.Client, status: str, **services: str) -> dict:
    """/health once the cached report shows `status` and the services' states (it is cached for seconds)."""
    answer = eventually(
        lambda: health(http),
        lambda r: r.json()["status"] == status and all(r.json()["services"][k] == v for k, v in services.items()),
        timeout=10,
    )
    body = answer.json()
    assert body["status"] == status and all(body["services"][k] == v for k, v in services.items()), body
    assert answer.status_code == (503 if status == "unhealthy" else 200)
    return body


def assert_extractive(response: httpx.Response) -> dict:
    body = response.json()
    assert response.status_code == 200, body
    assert body["mode"] == "extractive" and body["answer"] and body["sources"] and body["model"] is None
    return body


MODEL_FAULTS = {
    # Twice: the SDK retries once, so one call fails only when both attempts do.
    "429 rate limited": lambda fake: fake.fail_next(429, times=2, path="chat/completions"),
    "500 server error": lambda fake: fake.fail_next(500, times=2, path="chat/completions"),
    "slower than OPENAI_TIMEOUT": lambda fake: setattr(fake, "latency", {"chat/completions": 3.0}),
    "malformed JSON": lambda fake: fake.malformed_next(times=2, path="chat/completions"),
}


@pytest.mark.parametrize("fault", list(MODEL_FAULTS))
def test_a_model_fault_gives_an_extractive_answer_then_the_next_one_is_the_model_s(http, fake_openai, fault):
    MODEL_FAULTS[fault](fake_openai)
    started = time.perf_counter()
    assert_extractive(http.post("/v1/query", json=QUESTION))
    took = time.perf_counter() - started
    assert health(http).status_code == 200  # the model answers /v1/models: only completions failed
    fake_openai.reset()
    recovered = http.post("/v1/query", json=QUESTION).json()
    assert recovered["mode"] == "rag" and recovered["answer"].endswith("[1].")
    print(f"fault {fault}: extractive answer in {took:.2f} s, then the model's again")


def test_a_stream_cut_in_the_middle_ends_with_an_error_event_and_the_next_one_completes(http, fake_openai):
    fake_openai.cut_stream_after(3)
    cut = events(http.post("/v1/query", json={**QUESTION, "stream": True}).text)
    names = [name for name, _ in cut]
    assert names[0] == "sources" and "delta" in names and names[-1] == "error" and "done" not in names
    assert '"code": "unavailable"' in cut[-1][1]
    whole = [name for name, _ in events(http.post("/v1/query", json={**QUESTION, "stream": True}).text)]
    assert whole[0] == "sources" and whole[-1] == "done"


def test_the_model_and_the_database_down_degrade_health_then_both_recover(http, fake_openai, pg_cluster):
    rating = {"answer_id": "ans_outage", "rating": 1}
    assert http.post("/v1/feedback", json=rating).status_code == 201
    fake_openai.fail_next(500, times=10_000)  # every path, /v1/models included
    pg_cluster.stop()
    try:
        body = health_becomes(http, "degraded", openai_api="unhealthy", database="unhealthy", vector_db="healthy")
        assert {"openai_api", "database"} <= set(body["errors"])
        answers = [http.post("/v1/query", json=QUESTION) for _ in range(6)]
        assert all(assert_extractive(answer) for answer in answers)
        calls = len(fake_openai.calls("chat/completions"))
        # Each failed call is two attempts; once the breaker is open no call reaches the model at all.
        assert calls == 2 * FAILURES_TO_OPEN, calls
        down = http.post("/v1/feedback", json=rating)
        assert_error(down, 503, "unavailable")
        assert int(down.headers["Retry-After"]) > 0
    finally:
        pg_cluster.start()
    fake_openai.reset()
    time.sleep(COOLDOWN)
    assert http.post("/v1/query", json=QUESTION).json()["mode"] == "rag"
    back = eventually(lambda: http.post("/v1/feedback", json=rating), lambda r: r.status_code == 201, timeout=10)
    assert back.status_code == 201
    health_becomes(http, "healthy", openai_api="healthy", database="healthy")
    print(
        f"model and PostgreSQL down: 6 answers extractive ({calls} calls reached the model before its breaker opened), "
        "feedback 503 with Retry-After; both back without a restart"
    )


def test_the_daily_token_budget_turns_answers_extractive_without_calling_the_model(config_for, sparse_index, fake_openai):
    # No answer cache: the second question must reach the budget, not a cached answer.
    config = config_for(sparse_index, openai_base_url=fake_openai.base_url, daily_token_budget=100, answer_cache_seconds=0)

    async def ask_three_times():
        async with pool(config) as clients:
            asked = [await query.handle(query.QueryRequest.from_json(QUESTION, request_id=str(n)), clients) for n in range(2)]
            stream = await query.handle(query.QueryRequest.from_json({**QUESTION, "stream": True}, request_id="s"), clients)
            return [reply.body for reply in asked], [name async for name, _ in stream.events]

    (first, second), streamed = asyncio.run(ask_three_times())
    spent = first["usage"]["prompt_tokens"] + first["usage"]["completion_tokens"]
    assert first["mode"] == "rag" and spent > 100
    assert second["mode"] == "extractive" and second["model"] is None and streamed[-1] == "done"
    assert len(fake_openai.calls("chat/completions")) == 1
    print(f"token budget: one answer spent {spent} of 100 tokens; the next two were extractive, the model not called")


def test_vector_store_and_database_unreachable_at_start_up_then_the_store_comes_back(tmp_path, server_index):
    qdrant_port, database_port = free_port(), free_port()
    env = {
        "QDRANT_URL": f"http://127.0.0.1:{qdrant_port}",
        "QDRANT_TIMEOUT": "2",
        "DATABASE_URL": f"postgresql://bookbot:pw-not-logged@127.0.0.1:{database_port}/bookbot",
        "DATABASE_TIMEOUT": "2",
        "BREAKER_COOLDOWN_SECONDS": str(COOLDOWN),
    }
    started = time.perf_counter()
    with running(tmp_path, env) as service, httpx.Client(base_url=service.url, timeout=30) as http:
        up_in = time.perf_counter() - started
        body = health_becomes(http, "unhealthy", vector_db="unhealthy", database="unhealthy")
        assert "pw-not-logged" not in str(body)
        refused = http.post("/v1/query", json=QUESTION)
        assert_error(refused, 503, "unavailable")
        assert int(refused.headers["Retry-After"]) > 0
        feedback = http.post("/v1/feedback", json={"answer_id": "ans_x", "rating": 1})
        assert_error(feedback, 503, "unavailable")
        assert int(feedback.headers["Retry-After"]) > 0

        store = tmp_path / "qdrant-server"
        shutil.copytree(server_index.qdrant_path, store)
        with QdrantFront(store, qdrant_port):
            health_becomes(http, "degraded", vector_db="healthy", database="unhealthy")
            answered = http.post("/v1/query", json=QUESTION)
            assert answered.status_code == 200 and answered.json()["sources"]
        assert_error(http.post("/v1/query", json=QUESTION), 503, "unavailable")
    assert "pw-not-logged" not in service.log()
    print(f"start-up with the vector store and the database unreachable: answering in {up_in:.1f} s; the store came back without a restart")


def test_with_a_dense_index_the_model_down_still_gives_an_extractive_answer(config_for, dense_index, fake_openai):
    fake_openai.fail_next(500, times=10_000)  # embeddings too

    async def ask():
        async with pool(config_for(dense_index, openai_timeout=1.0)) as clients:
            return await query.handle(query.QueryRequest.from_json(QUESTION, request_id="dense"), clients)

    reply = asyncio.run(ask())
    assert reply.status == 200 and reply.body["mode"] == "extractive" and reply.body["sources"]


def test_silent_dependencies_hold_up_neither_start_up_nor_requests_once_known_down(tmp_path):
    """A vector store and a database that accept connections and never answer: the worst kind of down."""
    silent = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]  # listening, never accepting
    qdrant_port, database_port = (sock.getsockname()[1] for sock in silent)
    env = {
        "QDRANT_URL": f"http://127.0.0.1:{qdrant_port}",
        "QDRANT_TIMEOUT": "0.5",
        "DATABASE_URL": f"postgresql://bookbot@127.0.0.1:{database_port}/bookbot",
        "DATABASE_TIMEOUT": "0.5",
        "BREAKER_FAILURES": "2",
        "BREAKER_COOLDOWN_SECONDS": "30",
    }
    try:
        with running(tmp_path, env) as service, httpx.Client(base_url=service.url, timeout=30) as http:
            # Each call waits out QDRANT_TIMEOUT (a 504) until the breaker has seen enough: then a 503 at once,
            # with the breaker's cooldown as Retry-After (the start-up /health probe counted too).
            answers = [http.post("/v1/query", json=QUESTION) for _ in range(3)]
            codes = [answer.json()["error"]["code"] for answer in answers]
            assert "upstream_timeout" in codes and codes[-1] == "unavailable", codes
            assert 5 < int(answers[-1].headers["Retry-After"]) <= 30
            rating = {"answer_id": "ans_x", "rating": 1}
            refused = [http.post("/v1/feedback", json=rating) for _ in range(3)][-1]
            assert_error(refused, 503, "unavailable")
            assert 5 < int(refused.headers["Retry-After"]) <= 30  # the store alone says 5
        log = service.log()
        # Start-up went on without the database: the migration gave up after the app was already serving.
        assert log.index("Application startup complete") < log.index("database not ready at start-up")
    finally:
        for sock in silent:
            sock.close()
