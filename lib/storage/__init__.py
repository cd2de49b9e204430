"""Storage of answers and readers' feedback: PostgreSQL when configured, else a SQLite file."""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Protocol

from lib.config import Config
from lib.pricing import Price
from lib.storage.guarded import GuardedStore
from lib.storage.postgres import PostgresDatabase
from lib.storage.records import (
    AnswerRecord,
    FeedbackPage,
    FeedbackRecord,
    FeedbackResult,
)
from lib.storage.sqlite import SqliteDatabase, path_from_url
from lib.storage.store import SqlStore

__all__ = [
    "AnswerRecord",
    "FeedbackPage",
    "FeedbackRecord",
    "FeedbackResult",
    "GuardedStore",
    "Store",
    "open_store",
]

# Threads that run the store's calls; PostgreSQL gets one connection more, for the answer log.
WORKERS = 4
QUEUE_SIZE = 1000


class Store(Protocol):
    """Answers and feedback. Every call but log_answer may raise lib.errors.Unavailable."""

    async def migrate(self) -> None:
        """Create or update the tables; safe to run at every start, from many processes at once."""

    async def ping(self) -> None:
        """Return when the database answers; raise Unavailable when it doesn't."""

    async def record_feedback(self, record: FeedbackRecord) -> FeedbackResult:
        """Store `record` once per feedback_id; a repeat stores nothing and says created=False.

        An answer_id the answer log hasn't seen is stored too, with answer_known=False.
        Raises Unavailable, never reports success, when the database can't be reached.
        With STORE_QUERIES=false the reader's question and selection are not kept.
        """

    def log_answer(self, record: AnswerRecord) -> None:
        """Queue `record` for the answer log and return at once; never raises.

        A background thread writes the queue; a failed write or a full queue is
        counted in stats() and logged. With STORE_QUERIES=false the query is not kept.
        """

    async def list_feedback(
        self,
        rating: int | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> FeedbackPage:
        """Feedback with its logged answer, newest first; `before` is a page's `next_before`.

        `since` is inclusive and `until` exclusive; both need a time zone. A bad
        argument raises lib.errors.InvalidRequest naming it. With
        STORE_QUERIES=false, the question and the selection are None, even in
        feedback stored before.
        """

    async def summary(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        """Votes and reasons per UTC day, the share of unanswerable answers, the most down-voted questions."""

    async def analytics(self, since: datetime, until: datetime, prices: Mapping[str, Price]) -> dict:
        """The author's analytics of [since, until): answers, votes, latency, tokens and cost per UTC day and in
        total, and the most asked, most refused and most down-voted; see lib.storage.analytics for the shape.

        With STORE_QUERIES=false every question text is None, even one logged before.
        """

    async def prune_answers(self, before: datetime) -> int:
        """Delete the answer log's rows written before `before`, a batch at a time; return how many went.

        Feedback is kept: a reader's rating, with the snapshot the reader sent, is never pruned.
        """

    async def export_cases(self, rating: int = -1) -> list[dict]:
        """Rated answers as evaluation cases: query, retrieved chunk ids, reason, comment, ids; oldest first."""

    async def stats(self) -> dict:
        """The answer log's counters: answers_logged, answer_log_failures, answers_dropped, answers_pending."""

    async def close(self) -> None:
        """Write the queued answers for a short while, then close every connection."""


def open_store(config: Config, *, workers: int = WORKERS, queue_size: int = QUEUE_SIZE) -> Store:
    """The store for DATABASE_URL, or the SQLite file under DATA_DIR; connects only when first used."""
    url = config.database_url or ""
    if url.startswith(("postgres://", "postgresql://")):
        database = PostgresDatabase(url, timeout=config.database_timeout, pool_size=workers + 1)
    else:
        path = path_from_url(url) if url else config.sqlite_path
        database = SqliteDatabase(path, timeout=config.database_timeout)
    return SqlStore(
        database,
        timeout=config.database_timeout,
        store_queries=config.store_queries,
        workers=workers,
        queue_size=queue_size,
    )
