"""Migrations: run at every start, twice, and from several processes at once, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lib.storage.migrations import MIGRATIONS, pending

pytestmark = pytest.mark.anyio

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LATEST = len(MIGRATIONS["postgres"])

# Each process opens the store from the environment, waits for a common start
# time so that they really do migrate at once, and migrates.
_MIGRATE_AT = """
import asyncio, sys, time
from lib.config import Config
from lib.storage import open_store

async def main(start_at):
    store = open_store(Config.from_environ())
    time.sleep(max(0.0, start_at - time.time()))
    try:
        await store.migrate()
    finally:
        await store.close()

asyncio.run(main(float(sys.argv[1])))
"""


async def test_migrating_twice_changes_nothing_the_second_time(make_store, sql):
    first, second = make_store(), make_store()

    await first.migrate()
    await first.migrate()
    await second.migrate()

    assert sql("SELECT version, name FROM schema_migrations") == [(1, "answers and feedback")]


def test_processes_migrating_at_once_apply_each_step_exactly_once(make_config, sql):
    config = make_config()
    environ = {**os.environ, "PYTHONPATH": REPO, "DATA_DIR": str(config.data_dir)}
    if config.database_url:
        environ["DATABASE_URL"] = config.database_url
    start_at = str(time.time() + 1.0)

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AT, start_at],
            cwd=REPO,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(process.wait(timeout=30), process.stderr.read()) for process in processes]

    assert outcomes == [(0, "")] * 4
    assert sql("SELECT version FROM schema_migrations ORDER BY version") == [(n,) for n in range(1, LATEST + 1)]
    assert sql("SELECT COUNT(*) FROM feedback") == [(0,)]


def test_every_dialect_has_the_same_numbered_steps():
    for steps in MIGRATIONS.values():
        assert [step.version for step in steps] == list(range(1, LATEST + 1))
    assert [s.name for s in MIGRATIONS["postgres"]] == [s.name for s in MIGRATIONS["sqlite"]]


def test_pending_leaves_out_the_applied_steps():
    assert pending("sqlite", set()) == list(MIGRATIONS["sqlite"])
    assert pending("sqlite", set(range(1, LATEST + 1))) == []

