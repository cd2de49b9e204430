"""Time record_feedback and log_answer on each database; prints numbers, asserts nothing.

    python -m tests.lib.storage.bench_feedback [POSTGRES_SERVER_URL]

Without a URL it starts a throwaway cluster (see tests/pg.py).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from lib.config import Config
from lib.storage import open_store
from tests.lib.storage.conftest import answer, feedback
from tests.pg import Cluster, fresh_database

N = 2000


async def bench(name: str, config: Config) -> None:
    store = open_store(config, queue_size=N)
    await store.migrate()
    records = [feedback(f"ans_{n % 100}") for n in range(N)]

    started = time.perf_counter()
    for record in records[: N // 2]:
        await store.record_feedback(record)
    one_by_one = time.perf_counter() - started

    started = time.perf_counter()
    await asyncio.gather(*(store.record_feedback(record) for record in records[N // 2 :]))
    concurrent = time.perf_counter() - started

    started = time.perf_counter()
    for n in range(N):
        store.log_answer(answer(f"ans_{n}"))
    queued = time.perf_counter() - started
    while (stats := await store.stats())["answers_logged"] + stats["answers_dropped"] < N:
        await asyncio.sleep(0.005)
    drained = time.perf_counter() - started
    await store.close()

    half = N // 2
    print(
        f"{name:10} record_feedback: {half / one_by_one:7.0f}/s one at a time, "
        f"{half / concurrent:7.0f}/s {half} at once | log_answer: {queued / N * 1e6:.1f} µs a call, "
        f"{stats['answers_logged']} written ({stats['answers_dropped']} dropped) in {drained * 1000:.0f} ms"
    )


async def main(server_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await bench("sqlite", Config(data_dir=Path(folder)))
    cluster = None if server_url else Cluster()
    try:
        with fresh_database(server_url or cluster.url) as url:
            await bench("postgres", Config(database_url=url))
    finally:
        if cluster:
            cluster.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
