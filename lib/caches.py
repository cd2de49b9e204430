"""The service's caches: bounded in size and in time, each counting its hits, each sharing a miss.

- `embeddings`: a query's dense vector, by (model, normalised text).
- `answers`: a whole answer to a history-free question, by `AnswerKey`.
- `collection`: what the vector store says of the collection (its size and index
  version), for a second, so that an answer's key can name the index version
  without a round trip on every request.
- `health`: the /health report, for a few seconds.

Concurrent misses on one key share one computation (`Cache.get_or_compute`): a
thousand readers asking the same question at once cost one model call, and an
uptime monitor's burst costs one set of health checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
from typing import Any, Awaitable, Callable, Hashable, TypeVar

from attrs import frozen
from cachetools import TTLCache

T = TypeVar("T")

EMBEDDINGS_SIZE, EMBEDDINGS_TTL = 2048, 3600.0
ANSWERS_SIZE, ANSWERS_TTL = 1024, 900.0
COLLECTION_SIZE, COLLECTION_TTL = 8, 1.0
HEALTH_SIZE, HEALTH_TTL = 1, 5.0
_TRAILING = "?!.。？！ \t"


def normalise(text: str) -> str:
    """The form two questions share when they differ only in case, spacing or closing punctuation."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip(_TRAILING)


def digest(text: str | None) -> str | None:
    """A short fingerprint of a long text (a reader's selection), so keys stay small."""
    if text is None:
        return None
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


class Cache:
    """A TTLCache that counts hits and misses and lets concurrent misses on a key share one computation.

    Used from the event loop only: neither the TTLCache nor the counters are locked.
    """

    def __init__(self, name: str, maxsize: int, ttl: float):
        self.name = name
        self._data: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._pending: dict[Hashable, asyncio.Future] = {}
        self.hits = self.misses = self.shared = 0

    def get(self, key: Hashable) -> Any | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()

    async def get_or_compute(
        self, key: Hashable, compute: Callable[[], Awaitable[T]], keep: Callable[[T], bool] = lambda value: True
    ) -> tuple[T, bool]:
        """(value, hit): the cached value, or one computed once for everyone asking meanwhile.

        A value is stored only when `keep(value)` says so; a failure is never
        stored, and reaches everyone who waited for it. The computation runs in
        a task of its own, so a caller that goes away does not cancel it for
        the others.
        """
        value = self._data.get(key)
        if value is not None:
            self.hits += 1
            return value, True
        pending = self._pending.get(key)
        if pending is not None:
            self.shared += 1
            return await asyncio.shield(pending), True
        self.misses += 1
        task = asyncio.ensure_future(compute())
        self._pending[key] = task
        task.add_done_callback(lambda done: self._settle(key, done, keep))
        return await asyncio.shield(task), False

    def _settle(self, key: Hashable, task: asyncio.Future, keep: Callable[[Any], bool]) -> None:
        self._pending.pop(key, None)
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved when every waiter has gone
        if error is None and keep(task.result()):
            self._data[key] = task.result()

    def stats(self) -> dict:
        asked = self.hits + self.misses + self.shared
        return {
            "size": len(self._data),
            "maxsize": int(self._data.maxsize),
            "ttl_seconds": self._data.ttl,
            "hits": self.hits,
            "misses": self.misses,
            "shared": self.shared,
            "hit_rate": round((self.hits + self.shared) / asked, 4) if asked else None,
        }


@frozen
class AnswerKey:
    """Everything a history-free answer depends on.

    `scope` is the id of the API key that asked (lib.access), or None when no
    keys are configured: with keys, one key's answers are never served to
    another. `index_version` changes with every re-index, so a new index never
    serves an old answer; `selection` is the digest of the reader's selection,
    and with a selection the index plays no part (collection, version and book None).
    `embedded` counts the chunks that have their embedding: while they are being made, each batch is a new
    state of the index. `book` is the book searched first, or alone with `book_only`.
    """

    scope: str | None
    question: str
    top_k: int
    selection: str | None
    generation_model: str | None
    embedding_model: str | None
    collection: str | None
    index_version: str | None
    embedded: int | None  # the points with their embedding: the answer changes as they come
    book: str | None = None
    book_only: bool = False


class Caches:
    """The caches of one process, and their statistics for /health."""

    def __init__(self, answers_ttl: float = ANSWERS_TTL) -> None:
        self.embeddings = Cache("embeddings", EMBEDDINGS_SIZE, EMBEDDINGS_TTL)
        self.answers = Cache("answers", ANSWERS_SIZE, answers_ttl)
        self.collection = Cache("collection", COLLECTION_SIZE, COLLECTION_TTL)
        self.health = Cache("health", HEALTH_SIZE, HEALTH_TTL)

    def index_changed(self) -> None:
        """Forget what is known of the index and of health: the indexer calls this when it starts and ends.

        Answers and embeddings stay: an answer's key names its index version,
        and an embedding does not depend on the index.
        """
        self.collection.clear()
        self.health.clear()

    def stats(self) -> dict:
        return {cache.name: cache.stats() for cache in (self.embeddings, self.answers, self.collection, self.health)}
