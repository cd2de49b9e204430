"""python -m tests.perf.engine: the embedded vector engine at 1,000, 10,000 and 50,000 chunks, through the service.

For each size it writes a generated book (tests/perf/book.py), indexes it with the service's own indexer
(sparse first: chunks/s, and this process's peak RSS), gives every chunk an embedding, then starts
`python router.py` over that DATA_DIR twice (sparse alone; hybrid, with the loopback fake model for the
question's embedding and an instant answer) and asks questions no one asked before, with the answer cache
off, one at a time (`--connections` for more): p50 and p95 of the whole POST /v1/query, the server's CPU
per question, and its peak RSS. Nothing is asserted: it prints a table and writes perf/engine.json in the artifacts folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lib.config import Config
from lib.index import indexer
from lib.index.vectors import open_vectors
from tests.artifacts import ARTIFACTS
from tests.fakes.openai_server import FakeOpenAI, embed
from tests.perf.bench import _grid, _peak_rss_mb, _ticks, drive
from tests.perf.book import QUESTION, write_book
from tests.service import Service

DIMENSIONS = 384  # as the local model's; the fake model embeds at this size too
MODEL = "text-embedding-3-small"  # the name the fake model answers to
SIZES = (1000, 10_000, 50_000)


async def _index(config: Config, book: Path, dimensions: int = DIMENSIONS) -> dict:
    """Index sparse-first, then embed every chunk (with the fake model's function, in process): the timings."""
    started = time.perf_counter()
    pages, _ = indexer.load_pages([str(book)], config, lambda message: None)
    chunks = indexer.chunks_of(pages, config)
    read = time.perf_counter() - started
    vectors = open_vectors(config)
    try:
        started = time.perf_counter()
        embedder = _Embedder(dimensions)
        summary = await indexer.index_chunks(chunks, vectors=vectors, embedder=embedder, config=config, sources=[str(book)])
        sparse_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await indexer.fill_embeddings(vectors, embedder)
        dense_seconds = time.perf_counter() - started
    finally:
        await vectors.close()
    return {
        "chunks": summary.added, "read_seconds": round(read, 2),
        "sparse_seconds": round(sparse_seconds, 2), "sparse_chunks_per_second": round(summary.added / sparse_seconds),
        "embed_seconds": round(dense_seconds, 2), "peak_rss_mb": _peak_rss_mb(),
    }


class _Embedder:
    """The fake model's embedding function, in this process: what is measured is the engine, not a model."""

    model, remote = MODEL, False

    def __init__(self, dimensions: int):
        self.size = dimensions

    async def embed(self, texts):
        return [np.asarray(embed(text, self.size), dtype=np.float32) for text in texts]

    async def close(self):
        pass


def _query(service: Service, connections: int, seconds: float) -> dict:
    before = _ticks(service.process.pid)
    result = drive({
        "url": service.url, "method": "POST", "path": "/v1/query",
        "body": json.dumps({"query": f"{QUESTION} {{n}}"}), "headers": {"Content-Type": "application/json"},
        "connections": connections, "warmup": 0.5, "duration": seconds, "timeout": 30, "max_requests": 100_000,
    })
    cpu = (_ticks(service.process.pid) - before) / max(1, result["sent"]) * 1000
    return {"p50_ms": result["p50_ms"], "p95_ms": result["p95_ms"], "rps": result["rps"], "errors": result["errors"],
            "cpu_ms_per_question": round(cpu, 2), "peak_rss_mb": _peak_rss_mb(service.process.pid)}


def measure(size: int, root: Path, model: FakeOpenAI, connections: int, seconds: float) -> dict:
    book = write_book(root / f"book-{size}", size)
    config = Config(data_dir=root / f"data-{size}", embeddings="none", index_on_start=False)
    found = {"size": size, **asyncio.run(_index(config, book))}
    common = {"DATA_DIR": str(config.data_dir), "ANSWER_CACHE_SECONDS": "0", "RATE_LIMIT_PER_MINUTE": "0",
              "RATE_LIMIT_PER_DAY": "0", "LOG_LEVEL": "WARNING"}
    modes = {
        "sparse": {"EMBEDDINGS": "none"},
        "hybrid": {"OPENAI_BASE_URL": model.base_url, "EMBEDDINGS": "openai", "OPENAI_EMBEDDING_MODEL": MODEL,
                   "DAILY_TOKEN_BUDGET": "0"},
    }
    for mode, env in modes.items():
        with Service({**common, **env}, process=True, log_path=root / f"service-{size}-{mode}.log") as service:
            found[mode] = _query(service, connections, seconds)
        print(f"  {size:>6} chunks, {mode}: {found[mode]}", file=sys.stderr, flush=True)
    return found


def table(results: list[dict]) -> str:
    rows = [("chunks", "read+chunk s", "index sparse chunks/s", "embed s", "indexer peak RSS MB",
             "sparse p50/p95 ms", "hybrid p50/p95 ms", "CPU ms/question sparse/hybrid", "service peak RSS MB")]
    for r in results:
        rows.append((
            f"{r['size']:,}", r["read_seconds"], f"{r['sparse_chunks_per_second']:,}", r["embed_seconds"], r["peak_rss_mb"],
            f"{r['sparse']['p50_ms']} / {r['sparse']['p95_ms']}", f"{r['hybrid']['p50_ms']} / {r['hybrid']['p95_ms']}",
            f"{r['sparse']['cpu_ms_per_question']} / {r['hybrid']['cpu_ms_per_question']}",
            max(r["sparse"]["peak_rss_mb"], r["hybrid"]["peak_rss_mb"]),
        ))
    return "\n".join(_grid(rows))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="chunks per book, comma-separated")
    parser.add_argument("--connections", type=int, default=1, help="questions in flight at once (default 1)")
    parser.add_argument("--seconds", type=float, default=5.0, help="of questions per mode and size")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as root, FakeOpenAI(dimensions=DIMENSIONS) as model:
        for size in map(int, args.sizes.split(",")):
            results.append(measure(size, Path(root), model, args.connections, args.seconds))
    text = table(results)
    print(text)
    folder = ARTIFACTS / "perf"  # beside the benchmark's own
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "engine.json").write_text(json.dumps({"results": results, "table": text}, indent=2))


if __name__ == "__main__":
    main()
