"""handlers/query.py's answer cache: what it serves again, to whom, and what it never keeps."""

import asyncio
import sqlite3

import pytest

from handlers import health, query
from handlers.health import HealthRequest
from handlers.query import QueryRequest
from tests.parts import pool

pytestmark = pytest.mark.anyio

QUESTION = "How many tokens does a chunk have by default, and how much do neighbouring chunks overlap?"


async def ask(clients, key_id=None, **fields):
    reply = await query.handle(QueryRequest.from_json(fields, request_id="test", key_id=key_id), clients)
    assert reply.status == 200
    return reply.body


async def stream(clients, **fields):
    reply = await query.handle(QueryRequest.from_json({**fields, "stream": True}, request_id="test"), clients)
    return [(event, data) async for event, data in reply.events]


async def test_serves_a_question_asked_again_from_the_cache_with_an_id_of_its_own(config_for, dense_index, fake_openai):
    config = config_for(dense_index)
    async with pool(config) as clients:
        first = await ask(clients, query=QUESTION)
        again = await ask(clients, query="  " + QUESTION.upper() + "  ")
    assert len(fake_openai.calls("chat/completions")) == 1 and len(fake_openai.calls("embeddings")) == 1
    assert first["cached"] is False and again["cached"] is True
    assert again["answer"] == first["answer"] and again["sources"] == first["sources"]
    assert again["id"] != first["id"] and again["model"] == first["model"]
    assert first["usage"]["completion_tokens"] > 0 and again["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}
    # Feedback names an answer id, so the log has a row for each reply, the hit too, at no cost in tokens.
    with sqlite3.connect(config.sqlite_path) as db:
        rows = dict(db.execute("select id, completion_tokens from answers").fetchall())
    assert rows[first["id"]] > 0 and rows[again["id"]] == 0


async def test_answers_again_after_a_re_index(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        await ask(clients, query=QUESTION)
        collection = await clients.vectors.describe()
        await clients.vectors.set_metadata({**collection.metadata, "index_version": "next"})
        clients.caches.index_changed()  # as the indexer does when it finishes; else within a second
        again = await ask(clients, query=QUESTION)
    assert again["cached"] is False and len(fake_openai.calls("chat/completions")) == 2


async def test_never_caches_an_answer_that_depends_on_the_conversation(config_for, dense_index, fake_openai):
    history = [{"role": "user", "content": "What is chunking?"}, {"role": "assistant", "content": "Cutting pages."}]
    async with pool(config_for(dense_index)) as clients:
        first = await ask(clients, query=QUESTION, history=history)
        again = await ask(clients, query=QUESTION, history=history)
    assert first["cached"] is False and again["cached"] is False


async def test_never_caches_the_quoted_fallback_of_a_failed_model(config_for, dense_index, fake_openai):
    fake_openai.fail_next(status=500, times=2, path="chat/completions")
    async with pool(config_for(dense_index)) as clients:
        fallback = await ask(clients, query=QUESTION)
        again = await ask(clients, query=QUESTION)
    assert fallback["mode"] == "extractive" and again["mode"] == "rag" and again["cached"] is False


async def test_keys_an_answer_by_top_k_and_by_the_selection(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        bodies = [
            await ask(clients, query=QUESTION),
            await ask(clients, query=QUESTION, top_k=2),
            await ask(clients, query=QUESTION, selected_text="Chunks are 500 tokens."),
            await ask(clients, query=QUESTION, selected_text="Chunks are 800 tokens."),
            await ask(clients, query=QUESTION, selected_text="chunks are 800 tokens"),
        ]
    assert [body["cached"] for body in bodies] == [False, False, False, False, True]


async def test_keeps_one_api_keys_answers_from_another(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index, api_keys=("first", "second"))) as clients:
        first = await ask(clients, key_id="first-id", query=QUESTION)
        other = await ask(clients, key_id="second-id", query=QUESTION)
        same = await ask(clients, key_id="first-id", query=QUESTION)
    assert [first["cached"], other["cached"], same["cached"]] == [False, False, True]


async def test_fingerprints_the_presented_key_and_never_keeps_it():
    from lib.hosts.messages import Incoming

    incoming = Incoming("POST", "/v1/query", "r", headers={"content-type": "application/json", "authorization": "Bearer secret"}, body=b'{"query": "q"}')
    request = query.parse(incoming)
    assert request.key_id and "secret" not in request.key_id and len(request.key_id) == 16


async def test_many_readers_asking_at_once_cost_one_model_call(config_for, dense_index, fake_openai):
    fake_openai.latency = {"chat/completions": 0.2}
    async with pool(config_for(dense_index)) as clients:
        bodies = await asyncio.gather(*(ask(clients, query=QUESTION) for _ in range(10)))
    assert len(fake_openai.calls("chat/completions")) == 1
    assert sorted(body["cached"] for body in bodies) == [False] + [True] * 9
    assert len({body["id"] for body in bodies}) == 10


async def test_replays_a_cached_answer_as_events_and_caches_a_streamed_one(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        streamed = await stream(clients, query=QUESTION)
        replayed = await stream(clients, query=QUESTION)
        plain = await ask(clients, query=QUESTION)
    assert [event for event, _ in replayed] == ["sources", "delta", "done"]
    assert replayed[0][1] == streamed[0][1] == plain["sources"]
    assert replayed[1][1]["text"] == plain["answer"] == "".join(data["text"] for event, data in streamed if event == "delta")
    assert streamed[-1][1]["cached"] is False and replayed[-1][1]["cached"] is True and plain["cached"] is True
    assert len(fake_openai.calls("chat/completions")) == 1


async def test_health_reports_each_caches_hit_rate(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        await ask(clients, query=QUESTION)
        await ask(clients, query=QUESTION)
        body = (await health.handle(HealthRequest(), clients)).body
    answers = body["caches"]["answers"]
    assert answers["hits"] == 1 and answers["misses"] == 1 and answers["hit_rate"] == 0.5
    assert {"embeddings", "collection", "health"} <= set(body["caches"]) and body["status"] == "healthy"
    assert {"answers_logged", "answers_dropped", "answers_pending"} <= set(body["answer_log"])
