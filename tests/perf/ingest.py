"""Ingestion throughput: a generated book into the embedded vector engine, embedded by the loopback OpenAI.

    python -m tests.perf.ingest --chunks 5000 --openai-url http://127.0.0.1:PORT/v1

Run in a process of its own so that its peak RSS is the indexer's. It writes
the book, reads and chunks it (timed apart), indexes it with
lib.index.indexer.index_chunks (timed), then indexes the unchanged book again, and
prints one line of JSON. The embedder's latency is whatever its server was
told (the benchmark sets 100 ms per request, that is per batch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lib.clients import open_openai
from lib.config import Config
from lib.index import indexer
from lib.index.embedding import open_embedder
from lib.index.vectors import open_vectors
from tests.perf.bench import _peak_rss_mb, _reset_peak_rss
from tests.perf.book import write_book


async def _index(chunks, config: Config, book: Path) -> indexer.Summary:
    vectors = open_vectors(config)
    client = open_openai(config)
    embedder = open_embedder(config, client)
    try:
        summary = await indexer.index_chunks(chunks, vectors=vectors, embedder=embedder, config=config, sources=[str(book)])
        summary.embedded = await indexer.fill_embeddings(vectors, embedder)
        return summary
    finally:
        await vectors.close()
        await client.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.ingest")
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--openai-url", required=True)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        book = write_book(root / "docs", args.chunks)
        config = Config(data_dir=root / "data", openai_base_url=args.openai_url, index_on_start=False)
        started = time.perf_counter()
        pages, failed = indexer.load_pages([str(book)], config, lambda message: print(message, file=sys.stderr))
        chunks = indexer.chunks_of(pages, config)
        read = time.perf_counter() - started
        first = asyncio.run(_index(chunks, config, book))
        first_peak = _peak_rss_mb()
        _reset_peak_rss()  # the re-run's peak apart: it opens the collection again
        again = asyncio.run(_index(chunks, config, book))
        assert first.added == len(chunks) and again.unchanged == len(chunks), (first, again)
        print(json.dumps({
            "chunks": len(chunks),
            "pages": len(pages),
            "embed_batch": indexer.EMBED_BATCH,
            "embed_in_flight": indexer.EMBED_IN_FLIGHT,
            "read_seconds": round(read, 2),
            "index_seconds": round(first.seconds, 2),
            "chunks_per_second": round(len(chunks) / first.seconds, 1),
            "rerun_seconds": round(again.seconds, 2),
            "peak_rss_mb": first_peak,
            "rerun_peak_rss_mb": _peak_rss_mb(),
        }))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
