"""A first indexing killed at any point (SIGKILL, a real process) is taken up again by the next start: never a
collection that claims another book, never one that can't take its own embeddings, never 503 for ever."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handlers import query
from lib.clients import open_clients
from lib.config import Config
from lib.index.background import keep_indexed
from tests.parts import BOOK
from tests.service import REPO


def _state(data: Path) -> str | None:
    try:
        return json.loads((data / "vectors" / "book_chunks_v1" / "collection.json").read_text()).get("state")
    except (OSError, ValueError):
        return None


def _killed_when(data: Path, openai_url: str, moment) -> None:
    """Index the bundled book with `python -m lib.ingest`, and SIGKILL it as soon as `moment()` is true."""
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(data), "OPENAI_BASE_URL": openai_url}
    process = subprocess.Popen([sys.executable, "-m", "lib.ingest", str(BOOK)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not moment() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    killed = process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert killed, "the run ended before the moment came"


@pytest.mark.parametrize("moment", ["writing its chunks", "done writing, not yet embedding", "half embedded"])
def test_the_next_start_finishes_a_first_indexing_killed_at_any_moment(tmp_path, fake_openai, moment):
    data = tmp_path / "data"
    fake_openai.latency = {"embeddings": 0.2}  # long enough to be caught in the middle
    embedded_batches = lambda: len(fake_openai.calls("embeddings")) >= 3  # noqa: E731  (the size probe, and two batches)
    moments = {
        "writing its chunks": lambda: _state(data) == "indexing",
        "done writing, not yet embedding": lambda: _state(data) == "embedding",
        "half embedded": embedded_batches,
    }
    _killed_when(data, fake_openai.base_url, moments[moment])
    fake_openai.latency = {}
    config = Config(data_dir=data, book_dir=BOOK, openai_base_url=fake_openai.base_url, answer_cache_seconds=0)

    async def restart():
        clients = await open_clients(config, background=False)
        try:
            await asyncio.wait_for(keep_indexed(clients), 60)
            collection = await clients.vectors.describe()
            reply = await query.handle(query.QueryRequest.from_json({"query": "How do I deploy to a Hugging Face Space?"}), clients)
            return collection, reply
        finally:
            await clients.aclose()

    collection, reply = asyncio.run(restart())
    assert collection.metadata["sources"] == [str(BOOK.resolve())] and collection.metadata["state"] == "ready"
    assert collection.points > 100 and collection.dense_points == collection.points
    assert reply.status == 200 and reply.body["answerable"] and reply.body["sources"]
