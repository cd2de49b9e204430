"""The service's parts as tests use them: the bundled book indexed, the client pool opened and closed."""

from __future__ import annotations

import asyncio
import contextlib

from qdrant_client import AsyncQdrantClient

from lib.clients import Clients, open_clients, open_openai
from lib.config import REPO_ROOT, Config
from lib.index.embedding import open_embedder
from lib.index.indexer import Summary, fill_embeddings, index_sources
from lib.index.qdrant_server import QdrantServerVectors
from lib.index.vectors import open_vectors

BOOK = REPO_ROOT / "docs"


def local_mode(config: Config) -> QdrantServerVectors:
    """The collection in Qdrant's local mode under config's DATA_DIR/qdrant: a Qdrant server's stand-in."""
    return QdrantServerVectors(AsyncQdrantClient(path=str(config.qdrant_path)), config.qdrant_collection_name)


def index_book(config: Config, book=BOOK, *, server: bool = False) -> Summary:
    """Index a book into config's vector collection, embeddings and all, as `python -m lib.ingest` does; with
    `server`, into Qdrant's local mode as a server would hold it (see local_mode)."""

    async def run():
        vectors = local_mode(config) if server else open_vectors(config)
        client = open_openai(config)
        embedder = open_embedder(config, client)
        try:
            summary = await index_sources([str(book)], vectors=vectors, embedder=embedder, config=config)
            if embedder is not None:
                summary.embedded = await fill_embeddings(vectors, embedder)
        finally:
            await vectors.close()
            if client is not None:
                await client.close()
        assert not summary.skipped, summary.skipped
        return summary

    return asyncio.run(run())


@contextlib.asynccontextmanager
async def pool(config: Config, *, background: bool = True):
    """The service's client pool, opened as the service opens it, closed on the way out."""
    clients: Clients = await open_clients(config, background=background)
    try:
        yield clients
    finally:
        await clients.aclose()
