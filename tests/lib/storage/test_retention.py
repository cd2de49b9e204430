"""RETENTION_DAYS on both databases: the store prunes old answers a batch at a time, feedback stays, start-up prunes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from lib.storage import retention
from lib.storage import store as store_module
from tests.lib.storage.conftest import answer, feedback, until_logged
from tests.parts import pool

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)
CUTOFF = NOW - timedelta(days=30)


async def log_answers(store, *moments: datetime) -> None:
    for n, moment in enumerate(moments):
        store.log_answer(answer(f"ans_{n}", at=moment))
    await until_logged(store, len(moments))


async def test_prunes_answers_older_than_the_cutoff_a_batch_at_a_time_and_keeps_feedback(store, sql, monkeypatch):
    monkeypatch.setattr(store_module, "PRUNE_BATCH", 2)
    tick = timedelta(microseconds=1)
    old = [CUTOFF - timedelta(days=d) for d in (1, 2, 3, 4)] + [CUTOFF - tick]
    await log_answers(store, *old, CUTOFF, CUTOFF + tick, NOW)
    await store.record_feedback(feedback("ans_0", rating=-1, at=CUTOFF - timedelta(days=1), query="kept?", comment="kept"))

    removed = await store.prune_answers(CUTOFF)

    assert removed == 5
    assert sorted(row[0] for row in sql("SELECT id FROM answers")) == ["ans_5", "ans_6", "ans_7"]
    [kept] = (await store.list_feedback()).items
    assert kept["comment"] == "kept" and kept["query"] == "kept?" and kept["mode"] is None
    assert await store.prune_answers(CUTOFF) == 0


async def test_prune_once_logs_how_many_answers_went(store, caplog):
    await log_answers(store, CUTOFF - timedelta(days=1), CUTOFF - timedelta(hours=1), NOW)
    with caplog.at_level(logging.INFO, logger="bookbot"):
        removed = await retention.prune_once(store, 30, now=NOW)
    assert removed == 2
    assert "retention: pruned 2 answers older than 30 days" in caplog.text


async def test_the_service_prunes_at_start_up_when_retention_days_is_set(store, make_config, sql):
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    await log_answers(store, long_ago, long_ago + timedelta(days=5), datetime.now(timezone.utc))
    async with pool(make_config(retention_days=30, index_on_start=False)) as clients:
        for _ in range(250):
            if len(sql("SELECT id FROM answers")) == 1:
                break
            await asyncio.sleep(0.02)
        assert len(clients.background) == 3  # the migration, the pruning, and keeping the book indexed
    assert [row[0] for row in sql("SELECT id FROM answers")] == ["ans_2"]


async def test_a_failed_prune_is_logged_and_tried_again(make_store, caplog):
    closed = make_store()
    await closed.close()
    with caplog.at_level(logging.WARNING, logger="bookbot"):
        task = asyncio.create_task(retention.prune_forever(closed, 30, every=3600, retry_after=0.01))
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert caplog.text.count("retention: could not prune the answer log") >= 2
