"""The store behind the database's breaker: once the database is known down, calls answer 503 at once."""

from __future__ import annotations

from datetime import datetime
from typing import Awaitable, Callable, Mapping, TypeVar

from lib.breaker import CircuitBreaker, CircuitOpen
from lib.errors import Unavailable
from lib.pricing import Price
from lib.storage.records import (
    AnswerRecord,
    FeedbackPage,
    FeedbackRecord,
    FeedbackResult,
)

T = TypeVar("T")


class GuardedStore:
    """A Store (see lib.storage) whose database calls go through `breaker`.

    Only Unavailable (the store's "the database is down") counts as a
    failure. log_answer, stats and close never touch the database on the
    caller's path, so they pass straight through.
    """

    def __init__(self, store, breaker: CircuitBreaker):
        self._store = store
        self.breaker = breaker

    async def migrate(self) -> None:
        await self._guarded(self._store.migrate)

    async def ping(self) -> None:
        await self._guarded(self._store.ping)

    async def record_feedback(self, record: FeedbackRecord) -> FeedbackResult:
        return await self._guarded(self._store.record_feedback, record)

    def log_answer(self, record: AnswerRecord) -> None:
        return self._store.log_answer(record)

    async def list_feedback(
        self,
        rating: int | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> FeedbackPage:
        filters = {"rating": rating, "reason": reason, "since": since, "until": until, "limit": limit, "before": before}
        return await self._guarded(self._store.list_feedback, **filters)

    async def summary(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        return await self._guarded(self._store.summary, since=since, until=until)

    async def analytics(self, since: datetime, until: datetime, prices: Mapping[str, Price]) -> dict:
        return await self._guarded(self._store.analytics, since=since, until=until, prices=prices)

    async def prune_answers(self, before: datetime) -> int:
        return await self._guarded(self._store.prune_answers, before)

    async def export_cases(self, rating: int = -1) -> list[dict]:
        return await self._guarded(self._store.export_cases, rating=rating)

    async def stats(self) -> dict:
        return await self._store.stats()

    async def close(self) -> None:
        await self._store.close()

    async def _guarded(self, method: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        try:
            with self.breaker.call(counts=lambda error: isinstance(error, Unavailable)):
                return await method(*args, **kwargs)
        except CircuitOpen as error:
            raise Unavailable(
                "the feedback database is unavailable; try again shortly", retry_after=error.retry_after_seconds
            ) from None
