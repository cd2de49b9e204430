"""What answer quality costs, printed (never asserted): python -m tests.perf.quality [--chunks 5000] [--backfill 256]

For the bundled book and a generated book of --chunks chunks (tests/perf/book.py), each in a process of its own
so that its peak RSS is its own, with the local model (EMBEDDINGS=local):

- sparse-first indexing: seconds until every chunk is searchable (the sparse vectors written), and the peak RSS;
- time to first answer: from the start of the process (the book read and chunked) to the first answer to a
  question, made the service's way (retrieval, the refusal, the quoted answer) on the sparse vectors;
- embedding backfill: chunks/s as lib.index.indexer.fill_embeddings embeds them with all-MiniLM-L6-v2 (the whole
  bundled book; the first --backfill chunks of the generated one), the model's load included, and the peak RSS;
- query latency added by the local embedder: the same questions searched hybrid and sparse, each question's
  embedding made anew (p50 and p95 of hybrid minus sparse, and of the embedding alone).

Prints one JSON line a book, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.answer import compose, refusal, retrieval
from lib.clients import open_clients
from lib.config import REPO_ROOT, Config
from lib.index import indexer
from lib.index.vectors import open_vectors
from tests.perf.bench import _peak_rss_mb, _reset_peak_rss
from tests.perf.book import QUESTION, write_book

QUESTIONS = (
    "How do I deploy Bookbot on a Hugging Face Space?",
    "What happens when the embeddings API is down?",
    "Which variable sets the number of passages?",
    "How are readers' ratings stored?",
    "What does the refusal threshold do?",
    QUESTION,
    "How does the robot publish lidar readings on a topic?",
    "Where is the map frame transform published from?",
)


class _Enough(Exception):
    """Stops the backfill once it has embedded what the benchmark asked for."""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def _measure(book: Path, data: Path, backfill: int, started: float) -> dict:
    config = Config(data_dir=data, index_on_start=False, embeddings="local")
    pages, failed = indexer.load_pages([str(book)], config, lambda message: None)
    chunks = indexer.chunks_of(pages, config)
    read = time.perf_counter() - started
    vectors = open_vectors(config)
    from lib.index.embedding import LocalEmbedder

    model = LocalEmbedder()
    summary = await indexer.index_chunks(chunks, vectors=vectors, embedder=model, config=config, sources=[str(book)])
    await vectors.close()
    searchable = time.perf_counter() - started
    index_peak = _peak_rss_mb()
    _reset_peak_rss()

    # The first answer, as the service makes it while the embeddings are still to come: sparse search.
    clients = await open_clients(config, background=False)
    try:
        collection = await retrieval.describe_collection(clients)
        plan = await compose.prepare(clients, collection, query=QUESTIONS[0] if "docs" in str(book) else QUESTION)
        first = plan.answer or plan.fallback()
        first_answer = time.perf_counter() - started

        # The backfill, batch by batch, as the background task runs it (the model loads on its first batch);
        # stopped after `backfill` chunks of a large book, as a restart would stop it.
        todo = len(chunks) if backfill <= 0 else min(backfill, len(chunks))
        done = {"embedded": 0}

        def progress(embedded: int, total: int) -> None:
            done["embedded"] = embedded
            if embedded >= todo:
                raise _Enough

        backfill_started = time.perf_counter()
        with contextlib.suppress(_Enough):
            await indexer.fill_embeddings(clients.vectors, model, progress)
        backfill_seconds = time.perf_counter() - backfill_started
        embedded = done["embedded"]
        backfill_peak = _peak_rss_mb()
    finally:
        await clients.aclose()

    latency = await _latency(config, model) if embedded == len(chunks) else None
    await model.close()
    return {
        "book": "bundled" if book == REPO_ROOT / "docs" else f"generated ({len(chunks)} chunks)",
        "chunks": len(chunks),
        "read_and_chunk_seconds": round(read, 2),
        "sparse_index_seconds": round(summary.seconds, 2),
        "searchable_after_seconds": round(searchable, 2),
        "index_peak_rss_mb": index_peak,
        "first_answer_after_seconds": round(first_answer, 2),
        "first_answer_refused": first.refusal_reason,
        "backfill_chunks": embedded,
        "backfill_chunks_per_second": round(embedded / backfill_seconds, 1) if embedded else None,
        "backfill_peak_rss_mb": backfill_peak,
        **(latency or {}),
    }


async def _latency(config: Config, model) -> dict:
    """Hybrid minus sparse search time per question, and the embedding alone, each embedding made anew."""
    clients = await open_clients(config, background=False)
    clients.embedder = model
    try:
        collection = await retrieval.describe_collection(clients)
        await refusal.floor(clients, collection)  # once per index version: not a query's cost
        added, embedding = [], []
        for round_ in range(4):
            for question in QUESTIONS:
                asked = f"{question} ({round_})"  # a new text each time: no cached embedding
                t0 = time.perf_counter()
                await retrieval.search(clients, asked, 5, collection, mode=retrieval.SPARSE)
                t1 = time.perf_counter()
                await retrieval.search(clients, asked, 5, collection, mode=retrieval.HYBRID)
                t2 = time.perf_counter()
                await model.embed([asked + "?"])
                t3 = time.perf_counter()
                added.append((t2 - t1) - (t1 - t0))
                embedding.append(t3 - t2)
    finally:
        await clients.aclose()
    ms = lambda seconds: round(seconds * 1000, 1)  # noqa: E731
    return {
        "queries": len(added),
        "added_latency_p50_ms": ms(statistics.median(added)),
        "added_latency_p95_ms": ms(_percentile(added, 0.95)),
        "embedding_p50_ms": ms(statistics.median(embedding)),
        "embedding_p95_ms": ms(_percentile(embedding, 0.95)),
    }


def _one(which: str, chunks: int, backfill: int) -> None:
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    try:
        book = REPO_ROOT / "docs" if which == "bundled" else write_book(root / "book", chunks)
        result = asyncio.run(_measure(book, root / "data", backfill if which != "bundled" else 0, started))
        print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=5000, help="the generated book's size (default %(default)s)")
    parser.add_argument("--backfill", type=int, default=256,
                        help="chunks of the generated book to embed for the backfill rate; 0 for all (default %(default)s)")
    parser.add_argument("--one", choices=("bundled", "generated"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _one(args.one, args.chunks, args.backfill)
        return
    results = []
    for which in ("bundled", "generated"):
        done = subprocess.run(
            [sys.executable, "-m", "tests.perf.quality", "--one", which, "--chunks", str(args.chunks), "--backfill", str(args.backfill)],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, check=True,
        )
        line = done.stdout.strip().splitlines()[-1]
        print(line, flush=True)
        results.append(json.loads(line))
    rows = (
        ("chunks", "chunks"), ("searchable after (s)", "searchable_after_seconds"), ("index peak RSS (MB)", "index_peak_rss_mb"),
        ("first answer after (s)", "first_answer_after_seconds"), ("backfill chunks", "backfill_chunks"),
        ("backfill chunks/s", "backfill_chunks_per_second"), ("backfill peak RSS (MB)", "backfill_peak_rss_mb"),
        ("added latency p50 (ms)", "added_latency_p50_ms"), ("added latency p95 (ms)", "added_latency_p95_ms"),
        ("embedding p50 (ms)", "embedding_p50_ms"), ("embedding p95 (ms)", "embedding_p95_ms"),
    )
    print(f"\n{'':24} " + " ".join(f"{result['book']:>26}" for result in results))
    for name, key in rows:
        print(f"{name:<24} " + " ".join(f"{str(result.get(key, '-')):>26}" for result in results))


if __name__ == "__main__":
    main()
