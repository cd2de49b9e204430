"""The service keeps its book indexed in the background: searchable within seconds of a start, better as the
embeddings come, and patient with an embedding model that is down.

At start: a collection left by Qdrant's local mode is migrated; BOOK_DIR is indexed when the collection is
empty, holds an older state of it, or was cut short (a collection that holds another book, indexed by hand,
is left alone); then every chunk without its embedding gets one, batch by batch. When the model fails,
what was embedded stays, answers go on from the sparse vectors, and the embedding is tried again later,
waiting longer each time (up to RETRY_AT_MOST). `clients.indexing` says what is going on, for /health.
"""

from __future__ import annotations

import asyncio
import logging

from attrs import define

from lib import monitoring
from lib.index.embedding import EmbeddingFailed, learn_size
from lib.index.indexer import CollectionMismatch, fill_embeddings, index_sources
from lib.index.migration import migrate_local_mode
from lib.index.vectors import is_empty

log = logging.getLogger("bookbot")

RETRY_FIRST, RETRY_AT_MOST = 5.0, 300.0  # seconds before trying a failed embedding model again


@define
class Progress:
    """What the background indexing is doing: its phase, how far it got, and why it waits, if it does."""

    phase: str  # migrating, indexing, embedding, or waiting (for the embedding model)
    done: int = 0
    total: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        found = {"phase": self.phase, "done": self.done, "total": self.total}
        return {**found, "error": self.error} if self.error else found


async def keep_indexed(clients, *, retry_first: float = RETRY_FIRST) -> None:
    """The pool's background task: migrate, index BOOK_DIR when it is due, then fill in the embeddings; a failed
    embedding model is tried again after `retry_first` seconds, then twice as long each time."""
    try:
        if clients.vectors is None:
            return
        clients.indexing = Progress("migrating")
        await migrate_local_mode(clients.config, clients.vectors)
        if clients.config.index_on_start:
            await _index_book(clients)
        await _fill_with_retries(clients, retry_first)
    except Exception as error:
        log.exception("indexing the book in the background failed")
        clients.metrics.index_failed()
        monitoring.report_error(error)
    finally:
        clients.indexing = None
        clients.caches.index_changed()


def _own_book(clients, collection) -> bool:
    """Whether the collection is empty or holds BOOK_DIR (as opposed to a book indexed by hand)."""
    book = str(clients.config.book_dir.resolve())
    return is_empty(collection) or collection.metadata.get("sources") == [book]


async def _index_book(clients, recreate: bool = False) -> bool:
    """Index BOOK_DIR when it is there and the collection is its own; whether it was."""
    config, vectors = clients.config, clients.vectors
    book = config.book_dir.resolve()
    if not book.is_dir():
        return False
    collection = await vectors.describe()
    if not _own_book(clients, collection):
        log.info("collection %s holds another book (%s); BOOK_DIR is not indexed", collection.name, collection.metadata.get("sources"))
        return False
    clients.indexing = Progress("indexing")
    clients.caches.index_changed()

    def report(message: str) -> None:
        log.info("indexing %s: %s", book, message)

    try:
        summary = await index_sources(
            [str(book)], vectors=vectors, embedder=clients.embedder, config=config, report=report, recreate=recreate
        )
    except CollectionMismatch as error:  # this service's own book, embedded by another model: made anew
        log.info("%s: indexing BOOK_DIR anew", error)
        summary = await index_sources(
            [str(book)], vectors=vectors, embedder=clients.embedder, config=config, report=report, recreate=True
        )
    log.info("indexed the book", extra={"summary": summary.lines()})
    clients.metrics.indexed(summary.added, summary.updated, summary.removed)
    clients.caches.index_changed()
    return True


async def _fill_with_retries(clients, wait: float) -> None:
    """Embed what lacks an embedding; when the model fails, wait and try again, for as long as the pool lives."""
    if clients.embedder is None:
        return
    while True:
        progress = Progress("embedding")
        clients.indexing = progress

        def advanced(done: int, total: int) -> None:
            progress.done, progress.total = done, total

        try:
            collection = await clients.vectors.describe()
            if collection is not None and collection.dense_size is None:
                # Made while the model could not say the size of its embeddings: BOOK_DIR is made anew once it can.
                if not (clients.config.index_on_start and _own_book(clients, collection)):
                    return
                await learn_size(clients.embedder)
                if not await _index_book(clients, recreate=True):
                    return
                continue
            embedded = await fill_embeddings(clients.vectors, clients.embedder, advanced)
        except EmbeddingFailed as error:
            log.warning("the embedding model failed (%s); answering from the sparse vectors, trying again in %g s", error, wait)
            clients.indexing = Progress("waiting", progress.done, progress.total, error=str(error)[:200])
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_AT_MOST)
            continue
        if embedded:
            log.info("embedded %d chunks", embedded)
        return
