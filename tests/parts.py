"""The service's parts as tests use them: the bundled book indexed, the client pool opened and closed."""

from __future__ import annotations

import asyncio
import contextlib

from qdrant_client import AsyncQdrantClient

from lib.clients import Clients, open_clients, open_openai
from lib.config import REPO_ROOT, Config
from lib.index.indexer import Summary, index_sources

BOOK = REPO_ROOT / "docs"


def index_book(config: Config, book=BOOK) -> Summary:
    """Index a book into config's local Qdrant folder, as `python -m lib.ingest` does."""

    async def run():
        qdrant = AsyncQdrantClient(path=str(config.qdrant_path))
        embedder = open_openai(config)
        try:
            summary = await index_sources([str(book)], qdrant=qdrant, embedder=embedder, config=config)
        finally:
            await qdrant.close()
            if embedder is not None:
                await embedder.close()
        assert not summary.skipped, summary.skipped
        return summary

    return asyncio.run(run())


@contextlib.asynccontextmanager
async def pool(config: Config):
    """The service's client pool, opened as the service opens it, closed on the way out."""
    clients: Clients = await open_clients(config)
    try:
        yield clients
    finally:
        await clients.aclose()
