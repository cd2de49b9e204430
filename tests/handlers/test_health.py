"""handlers/health.py called directly: healthy, degraded and unhealthy, each dependency's state."""

import asyncio

import pytest

from handlers import health
from handlers.health import HealthRequest
from lib.config import Config
from lib.index.background import Progress
from lib.index.vectors import open_vectors
from tests.parts import pool

pytestmark = pytest.mark.anyio


async def check(clients):
    reply = await health.handle(HealthRequest(), clients)
    return reply.status, reply.body


async def test_is_healthy_when_every_dependency_answers(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        status, body = await check(clients)
    assert status == 200 and body["status"] == "healthy"
    assert body["services"] == {"database": "healthy", "vector_db": "healthy", "openai_api": "healthy"}
    assert body["collection"]["name"] == "book_chunks_v1" and body["collection"]["points"] > 50
    assert body["collection"]["dense_size"] == 64 and body["version"]
    assert "errors" not in body


async def test_is_degraded_with_openai_disabled_when_no_model_is_configured(config_for, sparse_index):
    async with pool(config_for(sparse_index)) as clients:
        status, body = await check(clients)
    assert status == 200 and body["status"] == "degraded"
    assert body["services"]["openai_api"] == "disabled" and body["collection"]["dense_size"] is None


async def test_is_degraded_and_says_why_when_the_database_is_down(config_for, sparse_index, pg_cluster):
    config = config_for(sparse_index, database_url=pg_cluster.url, database_timeout=1.0)
    pg_cluster.stop()
    try:
        async with pool(config) as clients:
            status, body = await check(clients)
    finally:
        pg_cluster.start()
    assert status == 200 and body["status"] == "degraded"
    assert body["services"]["database"] == "unhealthy" and body["errors"]["database"]
    assert "password" not in body["errors"]["database"] and pg_cluster.url not in body["errors"]["database"]


async def test_is_degraded_when_the_model_server_fails(config_for, dense_index, fake_openai):
    fake_openai.fail_next(status=500, times=10, path="models")
    async with pool(config_for(dense_index)) as clients:
        status, body = await check(clients)
    assert status == 200 and body["status"] == "degraded" and body["services"]["openai_api"] == "unhealthy"


async def test_is_unhealthy_when_nothing_is_indexed(tmp_path):
    async with pool(Config(data_dir=tmp_path, index_on_start=False)) as clients:
        status, body = await check(clients)
    assert status == 503 and body["status"] == "unhealthy"
    assert "python -m lib.ingest" in body["errors"]["collection"]


async def test_is_unhealthy_and_says_so_when_another_process_holds_the_local_vector_store(config_for, sparse_index):
    config = config_for(sparse_index)
    holder = open_vectors(config)
    try:
        async with pool(config) as clients:
            status, body = await check(clients)
    finally:
        await holder.close()
    assert status == 503 and body["services"]["vector_db"] == "unhealthy"
    assert "in use by another process" in body["errors"]["vector_db"]


async def test_caches_the_report_for_a_few_seconds(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        first = await check(clients)
        fake_openai.fail_next(status=500, times=10, path="models")
        second = await check(clients)
        clients.caches.index_changed()
        third = await check(clients)
    assert first == second and third[1]["services"]["openai_api"] == "unhealthy"
    assert len(fake_openai.calls("models")) >= 2


async def test_says_starting_at_once_while_the_book_is_first_indexed(tmp_path):
    async with pool(Config(data_dir=tmp_path, index_on_start=False, embeddings="none"), background=False) as clients:
        clients.indexing = Progress("indexing", 128, 148)  # what the background indexing sets
        status, body = await check(clients)
    assert status == 200 and body["status"] == "starting" and body["services"]["vector_db"] == "healthy"
    assert body["indexing"] == {"phase": "indexing", "done": 128, "total": 148} and "errors" not in body


async def test_is_no_longer_starting_once_the_book_can_be_searched_while_it_is_embedded(config_for, sparse_index):
    async with pool(config_for(sparse_index), background=False) as clients:
        clients.indexing = Progress("embedding", 40, 148)
        status, body = await check(clients)
    assert status == 200 and body["status"] == "degraded" and body["indexing"]["phase"] == "embedding"  # no model: degraded


async def test_logs_the_start_up_indexing_at_info_and_is_done_once_it_ends(tmp_path, caplog):
    import logging

    async with pool(Config(data_dir=tmp_path, embeddings="none")) as clients:
        with caplog.at_level(logging.INFO, logger="bookbot"):
            await asyncio.wait_for(asyncio.gather(*clients.background), 60)
        clients.caches.index_changed()
        status, body = await check(clients)
    progress = [record for record in caplog.records if record.name == "bookbot" and "new chunks" in record.getMessage()]
    assert progress and all(record.levelno == logging.INFO for record in progress)
    assert status == 200 and body["status"] == "degraded" and "indexing" not in body and body["collection"]["points"] > 50
