"""The `store` fixture: every contract test runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest

from lib.config import Config
from lib.storage import AnswerRecord, FeedbackRecord, open_store
from tests.pg import admin_connection

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def make_config(request, tmp_path) -> Callable[..., Config]:
    """Config for this test's own database on either backend; keyword arguments override."""
    if request.param == "sqlite":
        base = {"data_dir": tmp_path}
    else:
        base = {"database_url": request.getfixturevalue("database_url")}
    return lambda **overrides: Config(**{**base, "database_timeout": 5.0, **overrides})


@pytest.fixture
async def make_store(make_config):
    """Open stores on this test's database; all are closed after the test."""
    stores = []

    def make(*, queue_size: int = 1000, **overrides):
        store = open_store(make_config(**overrides), queue_size=queue_size)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def store(make_store):
    store = make_store()
    await store.migrate()
    return store


@pytest.fixture
def sql(make_config) -> Callable[..., list[tuple]]:
    """Run SQL on the test's database over a connection of the test's own, not the store's."""
    config = make_config()

    def run(statement: str) -> list[tuple]:
        if config.database_url is None:
            with sqlite3.connect(config.sqlite_path) as connection:
                return connection.execute(statement).fetchall()
        connection = admin_connection(config.database_url)
        try:
            return [tuple(row) for row in connection.run(statement) or ()]
        finally:
            connection.close()

    return run


@pytest.fixture
def locked_answers(make_config):
    """`with locked_answers():` the answers table is held by a transaction of the test's own, so that no
    answer can be written until the block ends."""
    config = make_config()

    @contextlib.contextmanager
    def locked():
        if config.database_url is None:
            connection = sqlite3.connect(config.sqlite_path, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
        else:
            connection = admin_connection(config.database_url)
            connection.run("BEGIN")
            connection.run("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            (connection.execute if config.database_url is None else connection.run)("ROLLBACK")
            connection.close()

    return locked


def answer(id: str = "ans_1", *, at: datetime = T0, **fields) -> AnswerRecord:
    values = dict(
        id=id,
        created_at=at,
        query="How do ROS 2 nodes talk?",
        mode="rag",
        answerable=True,
        retrieved=[("ch-1", 0.83), ("ch-2", 0.61)],
        cited=["ch-1"],
        model="gpt-4o-mini",
        prompt_tokens=812,
        completion_tokens=96,
        latency_ms=1234.5,
        collection="book_chunks_v1",
        index_version="v1",
        session_id="s-1",
    )
    return AnswerRecord(**{**values, **fields})


def feedback(answer_id: str = "ans_1", *, rating: int = -1, at: datetime = T0, **fields) -> FeedbackRecord:
    return FeedbackRecord(answer_id=answer_id, rating=rating, created_at=at + timedelta(minutes=1), **fields)


async def until_logged(store, count: int, *, within: float = 5.0) -> dict:
    """Wait for the answer log to have settled `count` answers (written, failed or dropped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        stats = await store.stats()
        settled = stats["answers_logged"] + stats["answer_log_failures"] + stats["answers_dropped"]
        if settled >= count or loop.time() > deadline:
            return stats
        await asyncio.sleep(0.02)
