"""The explicit client pool: opened once per process, handed to every handler, closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import httpx2
from attrs import define, field
from openai import AsyncOpenAI
from qdrant_client import AsyncQdrantClient, QdrantClient

from lib.breaker import GuardedStore
from lib.caches import CachedEmbeddings, Caches
from lib.config import Config
from lib.errors import Unavailable
from lib.guards import guards
from lib.indexer import index_on_start
from lib.metrics import Metrics
from lib.retention import prune_forever
from lib.storage import Store, open_store

log = logging.getLogger("bookbot")

# Retrievals at once (embedding the question, searching, scoring): enough to keep a core busy
# while embeddings and searches are in flight; beyond it a miss waits for its turn.
RETRIEVAL_SLOTS = 64
# How long a miss may wait for its turn before it is told to come back (503, Retry-After).
RETRIEVAL_PATIENCE = 2.0


class VectorStoreLocked(Exception):
    """Raised when another process already holds the local Qdrant folder."""


class Gate:
    """At most `slots` holders at once; a caller who would wait longer than `patience` is turned away.

    When misses arrive faster than one process can retrieve them, a longer queue
    only adds to every reader's wait and to the memory held for readers who have
    already given up; a quick 503 with Retry-After lets a client, or a load
    balancer, try again later or elsewhere.
    """

    def __init__(self, slots: int, patience: float):
        self._slots = asyncio.Semaphore(slots)
        self._patience = patience
        self.turned_away = 0

    @contextlib.asynccontextmanager
    async def held(self):
        try:
            await asyncio.wait_for(self._slots.acquire(), self._patience)
        except TimeoutError:
            self.turned_away += 1
            if self.turned_away & (self.turned_away - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: an overload can't flood the log
                log.warning("busy: %d misses turned away so far", self.turned_away)
            raise Unavailable("the service is busy; try again in a moment", retry_after=1) from None
        try:
            yield
        finally:
            self._slots.release()


@define
class Clients:
    """Everything a handler may talk to. A missing optional service is None."""

    config: Config
    store: Store
    qdrant: AsyncQdrantClient | LocalQdrant | None = None
    qdrant_error: str | None = None
    openai: AsyncOpenAI | CachedEmbeddings | None = None
    indexing: str | None = None  # what the start-up indexing of the book is doing, while it runs
    caches: Caches = field(factory=Caches)
    retrieval_gate: Gate = field(factory=lambda: Gate(RETRIEVAL_SLOTS, RETRIEVAL_PATIENCE))
    background: list[asyncio.Task] = field(factory=list)
    metrics: Metrics = field(factory=Metrics)

    def __attrs_post_init__(self) -> None:
        self.metrics.watch(self)

    @property
    def health_cache(self) -> Caches:
        """What the indexer clears when the index changes: the health report and the collection's description."""
        return self.caches

    async def aclose(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.openai is not None:
            await self.openai.close()
        if self.qdrant is not None:
            await self.qdrant.close()
        await self.store.close()


class LocalQdrant:
    """Qdrant's local mode with AsyncQdrantClient's methods, run off the event loop.

    AsyncQdrantClient(path=...) searches, writes and commits to SQLite
    synchronously inside its async methods, so every other request waits
    while it works. This runs the synchronous client in one thread of its own:
    the local store is not thread-safe, and its SQLite connection belongs to
    the thread that opened it. Every call queues for that thread in turn.
    """

    def __init__(self, path: str):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-local")
        try:
            self._client = self._thread.submit(QdrantClient, path=path).result()
        except BaseException:
            self._thread.shutdown(wait=False)
            raise

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._client, name)
        if not callable(method):
            return method

        async def call(*args, **kwargs):
            return await asyncio.get_running_loop().run_in_executor(self._thread, partial(method, *args, **kwargs))

        return call

    async def close(self, **kwargs) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, partial(self._client.close, **kwargs))
        finally:
            self._thread.shutdown(wait=False)


def open_qdrant(config: Config) -> AsyncQdrantClient | LocalQdrant:
    """A client for QDRANT_URL, or for the local folder under DATA_DIR."""
    if config.qdrant_url:
        return AsyncQdrantClient(
            url=config.qdrant_url,
            api_key=config.qdrant_api_key,
            timeout=int(max(1, config.qdrant_timeout)),
            # The client turns keep-alive off for a server on localhost: a new connection per search.
            # Kept alive for 4 s, under the 5 s after which Qdrant closes an idle connection.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0),
        )
    config.qdrant_path.mkdir(parents=True, exist_ok=True)
    try:
        return LocalQdrant(str(config.qdrant_path))
    except RuntimeError as error:
        if "already accessed" not in str(error):
            raise
        raise VectorStoreLocked(
            f"the local Qdrant folder {config.qdrant_path} is in use by another process; "
            "stop it, point DATA_DIR elsewhere, or use a Qdrant server with QDRANT_URL"
        ) from None


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


async def open_clients(config: Config) -> Clients:
    """Open every client, and index BOOK_DIR in the background when it is due.

    A dependency that is down does not stop start-up, nor does one that is slow; /health tells.
    """
    clients = Clients(config=config, store=open_store(config), caches=Caches(answers_ttl=config.answer_cache_seconds))
    # Once the database is known down, its calls answer 503 at once instead of queueing for DATABASE_TIMEOUT.
    clients.store = GuardedStore(clients.store, guards(clients).database)
    clients.background.append(asyncio.create_task(_migrate(clients.store)))
    if config.retention_days:
        clients.background.append(asyncio.create_task(prune_forever(clients.store, config.retention_days)))
    openai = open_openai(config)
    if openai is not None:
        clients.openai = CachedEmbeddings(openai, clients.caches.embeddings, on_usage=clients.metrics.tokens)
    try:
        clients.qdrant = open_qdrant(config)
    except VectorStoreLocked as error:
        log.error("%s", error)
        clients.qdrant_error = str(error)
    if config.index_on_start:
        clients.background.append(asyncio.create_task(index_on_start(clients)))
    return clients
