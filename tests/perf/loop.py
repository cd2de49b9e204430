"""python -m tests.perf.loop: does anything block the event loop? /health's latency while 50 queries are in flight.

The service runs as a host runs it (`python router.py`), on the embedded
defaults (the embedded vector engine, SQLite), over a generated book of 1,500
chunks; 50 clients keep asking new questions of a model that takes 200 ms.
It prints what it measured.

Measured here before the embedded engine replaced Qdrant's local mode: a
median of about 5 ms; 300 ms with Python's default GIL switch interval (5 ms,
which router.py shortens), and 4 s with the local mode on the event loop, as
AsyncQdrantClient(path=...) runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from lib.config import Config
from tests.fakes.openai_server import FakeOpenAI
from tests.parts import index_book
from tests.perf.book import QUESTION, write_book
from tests.service import Service

CLIENTS = 50
CHUNKS = 1500
MODEL_LATENCY = 0.2


async def _measure(url: str, seconds: float) -> tuple[list[float], int]:
    limits = httpx.Limits(max_connections=CLIENTS + 5)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        (await http.get("/health")).raise_for_status()  # the report is cached from here on
        stop = time.monotonic() + seconds
        answered = 0

        async def reader(n: int) -> None:
            nonlocal answered
            asked = 0
            while time.monotonic() < stop and asked < 100:
                asked += 1
                (await http.post("/v1/query", json={"query": f"{QUESTION} {n} {asked}"})).raise_for_status()
                answered += 1

        readers = [asyncio.create_task(reader(n)) for n in range(CLIENTS)]
        await asyncio.sleep(0.5)
        timings = []
        while time.monotonic() < stop - 0.3:
            started = time.perf_counter()
            (await http.get("/health")).raise_for_status()
            timings.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        await asyncio.gather(*readers)
    return timings, answered


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.loop", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long the readers ask (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root, FakeOpenAI() as model:
        model.latency = {"chat/completions": MODEL_LATENCY}
        config = Config(data_dir=Path(root) / "data", openai_base_url=model.base_url, index_on_start=False)
        index_book(config, write_book(Path(root) / "docs", CHUNKS))
        env = {"DATA_DIR": str(config.data_dir), "OPENAI_BASE_URL": model.base_url, "RATE_LIMIT_PER_MINUTE": "0"}
        with Service(env, log_path=Path(root) / "service.log", process=True) as service:
            timings, answered = asyncio.run(_measure(service.url, args.seconds))
    print(
        f"/health with {CLIENTS} queries in flight over {CHUNKS} local chunks ({answered} answered): "
        f"median {statistics.median(timings) * 1000:.1f} ms, p95 {statistics.quantiles(timings, n=20)[-1] * 1000:.1f} ms, "
        f"worst {max(timings) * 1000:.1f} ms of {len(timings)}"
    )


if __name__ == "__main__":
    main()
