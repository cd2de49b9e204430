"""The explicit client pool: opened once per process, handed to every handler, closed at shutdown."""

from __future__ import annotations

import asyncio
import logging

import httpx2
from attrs import Factory, define, field
from openai import AsyncOpenAI

from lib.admission import RETRIEVAL_SLOTS, Gate
from lib.caches import Caches
from lib.config import Config
from lib.guards import Guards
from lib.index.embedding import Embedder, open_embedder
from lib.index.vectors import VectorStore, VectorStoreLocked, open_vectors
from lib.metrics import Metrics
from lib.storage import GuardedStore, Store, open_store

log = logging.getLogger("bookbot")


@define
class Clients:
    """Everything a handler may talk to, and the state that guards it. A missing optional service is None."""

    config: Config
    store: Store
    vectors: VectorStore | None = None
    vectors_error: str | None = None  # why the vector store is not open
    openai: AsyncOpenAI | None = None
    embedder: Embedder | None = None
    indexing: object | None = None  # while the background indexing runs, its lib.index.background.Progress
    caches: Caches = field(factory=Caches)
    guards: Guards = field(default=Factory(lambda self: Guards.from_config(self.config), takes_self=True))
    retrieval_gate: Gate = field(default=Factory(lambda self: Gate(RETRIEVAL_SLOTS, self.config.queue_seconds), takes_self=True))
    background: list[asyncio.Task] = field(factory=list)
    metrics: Metrics = field(factory=Metrics)

    def __attrs_post_init__(self) -> None:
        self.metrics.watch(self)

    async def aclose(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.embedder is not None:
            await self.embedder.close()
        if self.openai is not None:
            await self.openai.close()
        if self.vectors is not None:
            await self.vectors.close()
        await self.store.close()


def open_openai(config: Config) -> AsyncOpenAI | None:
    if not config.openai_enabled:
        return None
    return AsyncOpenAI(
        # An OpenAI-compatible server of one's own may need no key, but the SDK insists on one.
        api_key=config.openai_api_key or "unused",
        base_url=config.openai_base_url,
        timeout=httpx2.Timeout(config.openai_timeout, connect=min(5.0, config.openai_timeout)),
        max_retries=1,
    )


async def _migrate(store: Store) -> None:
    """Create or update the tables off the start-up path; the store migrates before its first call anyway."""
    try:
        await store.migrate()
    except Exception as error:  # the database may come up later; feedback answers 503 until then
        log.warning("database not ready at start-up: %s", error)


async def open_clients(config: Config, *, background: bool = True) -> Clients:
    """Open every client; with `background`, also migrate, prune and index BOOK_DIR in tasks of their own.

    A function host passes background=False: an invocation must not leave
    work running after it answers. A dependency that is down does not stop
    start-up, nor does one that is slow; /health tells.
    """
    clients = Clients(config=config, store=open_store(config), caches=Caches(answers_ttl=config.answer_cache_seconds))
    # Once the database is known down, its calls answer 503 at once instead of queueing for DATABASE_TIMEOUT.
    clients.store = GuardedStore(clients.store, clients.guards.database)
    clients.openai = open_openai(config)
    clients.embedder = open_embedder(config, clients.openai, on_usage=clients.metrics.tokens)
    try:
        clients.vectors = open_vectors(config)
    except VectorStoreLocked as error:
        log.error("%s", error)
        clients.vectors_error = str(error)
    if background:
        _start_background(clients)
    return clients


def _start_background(clients: Clients) -> None:
    config = clients.config
    clients.background.append(asyncio.create_task(_migrate(clients.store)))
    if config.retention_days:
        from lib.storage.retention import prune_forever

        clients.background.append(asyncio.create_task(prune_forever(clients.store, config.retention_days)))
    from lib.index.background import (
        keep_indexed,  # the ingest pipeline: loaded only by a server that indexes
    )

    clients.background.append(asyncio.create_task(keep_indexed(clients)))
