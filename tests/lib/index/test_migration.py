"""lib/index/migration.py: a DATA_DIR of qdrant-client's local mode is carried into the embedded engine once."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys

import pytest

from handlers import query
from lib.clients import open_clients
from lib.index.background import keep_indexed
from tests.parts import BOOK
from tests.service import REPO

pytestmark = pytest.mark.anyio


async def test_a_local_mode_collection_is_migrated_on_start_and_answers_the_same(server_index, config_for, caplog, tmp_path):
    config = config_for(server_index)  # a DATA_DIR holding only DATA_DIR/qdrant, as before the embedded engine
    assert not config.vectors_path.exists()
    question = query.QueryRequest.from_json({"query": "How many tokens does a chunk have by default?"})
    clients = await open_clients(config, background=False)
    try:
        with caplog.at_level(logging.INFO, logger="bookbot"):
            await asyncio.wait_for(keep_indexed(clients), 60)
        collection = await clients.vectors.describe()
        answer = (await query.handle(question, clients)).body
    finally:
        await clients.aclose()
    assert collection.points > 100 and collection.metadata["sources"] and collection.metadata["state"] == "ready"
    assert answer["answerable"] and answer["sources"][0]["url"].startswith("/docs/")
    assert f"migrated {collection.points} points" in caplog.text
    # The next start finds the engine's collection and migrates nothing again.
    clients = await open_clients(config, background=False)
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bookbot"):
            await asyncio.wait_for(keep_indexed(clients), 60)
    finally:
        await clients.aclose()
    assert "migrated" not in caplog.text


def test_the_command_migrates_too_and_then_finds_the_book_unchanged(server_index, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(server_index.data_dir, data)
    done = subprocess.run(
        [sys.executable, "-m", "lib.ingest", "--dry-run", str(BOOK)], cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(data), "EMBEDDINGS": "none"}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "migrated" in done.stderr and "chunks added: 0, updated: 0, removed: 0" in done.stdout
