"""lib/index/background.py: the service's book, searchable at once, embedded in the background, patient with a
model that is down, and made anew when its embeddings came from another model."""

from __future__ import annotations

import asyncio
import logging
import shutil

import attrs
import pytest

from handlers import query
from lib.answer import retrieval
from lib.clients import open_clients
from lib.config import Config
from lib.index.background import keep_indexed
from tests.parts import BOOK, index_book

pytestmark = pytest.mark.anyio

QUESTION = {"query": "How do I deploy to a Hugging Face Space?"}


async def ask(clients) -> dict:
    return (await query.handle(query.QueryRequest.from_json(QUESTION), clients)).body


async def until(condition, within: float = 30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.02)


async def test_answers_from_the_sparse_vectors_while_the_model_is_down_then_embeds_when_it_is_back(tmp_path, fake_openai):
    fake_openai.fail_next(500, times=4, path="embeddings")  # the SDK tries each call twice: two attempts fail
    config = Config(data_dir=tmp_path / "data", book_dir=BOOK, openai_base_url=fake_openai.base_url, answer_cache_seconds=0)
    clients = await open_clients(config, background=False)
    try:
        task = asyncio.create_task(keep_indexed(clients, retry_first=0.5))
        await until(lambda: _waiting(clients))
        early = await ask(clients)  # during the wait: the sparse vectors answer
        assert early["answerable"] and early["sources"] and clients.indexing.error
        await asyncio.wait_for(task, 60)
        collection = await clients.vectors.describe()
        late = await ask(clients)
    finally:
        await clients.aclose()
    assert collection.points > 100 and collection.dense_points == collection.points
    assert collection.metadata["state"] == "ready" and collection.dense_model == config.openai_embedding_model
    assert retrieval.configured_mode(config, collection) == retrieval.HYBRID and late["answerable"]


async def _waiting(clients) -> bool:
    return clients.indexing is not None and clients.indexing.phase == "waiting"


async def test_reports_its_progress_while_it_embeds(tmp_path, fake_openai):
    fake_openai.latency = {"embeddings": 0.05}
    config = Config(data_dir=tmp_path / "data", book_dir=BOOK, openai_base_url=fake_openai.base_url)
    clients = await open_clients(config, background=False)
    seen = []
    try:
        task = asyncio.create_task(keep_indexed(clients))
        while not task.done():
            if clients.indexing is not None:
                seen.append(clients.indexing.to_dict())
            await asyncio.sleep(0.01)
        await task
    finally:
        await clients.aclose()
    phases = [progress["phase"] for progress in seen]
    assert "indexing" in phases and "embedding" in phases and phases.index("indexing") < phases.index("embedding")
    embedding = [progress for progress in seen if progress["phase"] == "embedding" and progress["total"]]
    assert embedding and all(0 <= p["done"] <= p["total"] for p in embedding) and clients.indexing is None


async def test_makes_its_own_book_anew_when_the_embedding_model_changed(tmp_path, fake_openai):
    config = Config(data_dir=tmp_path / "data", book_dir=BOOK, openai_base_url=fake_openai.base_url, index_on_start=True)
    await asyncio.to_thread(index_book, attrs.evolve(config, openai_embedding_model="an-older-model"))
    clients = await open_clients(config, background=False)
    try:
        await asyncio.wait_for(keep_indexed(clients), 60)
        collection = await clients.vectors.describe()
    finally:
        await clients.aclose()
    assert collection.dense_model == config.openai_embedding_model and collection.dense_points == collection.points > 100


async def test_leaves_another_book_alone_and_says_so(tmp_path, caplog):
    other = tmp_path / "other"
    (other / "guide").mkdir(parents=True)
    (other / "guide" / "page.md").write_text("# Another book\n\nThis book is about something else entirely.\n")
    config = Config(data_dir=tmp_path / "data", book_dir=BOOK, embeddings="none")
    await asyncio.to_thread(index_book, config, other)
    clients = await open_clients(config, background=False)
    try:
        with caplog.at_level(logging.INFO, logger="bookbot"):
            await asyncio.wait_for(keep_indexed(clients), 30)
        collection = await clients.vectors.describe()
    finally:
        await clients.aclose()
    assert collection.metadata["sources"] == [str(other.resolve())] and collection.points == 1
    assert "holds another book" in caplog.text


async def test_gives_up_on_its_book_made_without_embeddings_once_the_folder_is_gone(tmp_path, fake_openai):
    book = tmp_path / "book"
    shutil.copytree(BOOK, book)
    config = Config(data_dir=tmp_path / "data", book_dir=book, openai_base_url=fake_openai.base_url)
    await asyncio.to_thread(index_book, attrs.evolve(config, embeddings="none"), book)
    shutil.rmtree(book)
    clients = await open_clients(config, background=False)
    try:
        await asyncio.wait_for(keep_indexed(clients), 30)  # before: probed the model and returned to it for ever
        collection = await clients.vectors.describe()
    finally:
        await clients.aclose()
    assert collection.points > 100 and collection.dense_size is None  # still searchable, by its sparse vectors
