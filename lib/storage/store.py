"""The store over either database: off the event loop, bounded in time, with the answer log."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Callable, Mapping, Protocol, Sequence, TypeVar

import attrs

from lib.errors import InvalidRequest, Unavailable
from lib.pricing import Price
from lib.storage import analytics, queries
from lib.storage.answer_log import AnswerLog
from lib.storage.records import (
    AnswerRecord,
    FeedbackPage,
    FeedbackRecord,
    FeedbackResult,
    iso,
    stored_cited,
    stored_retrieved,
    stored_sources,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PAGE = 500
PRUNE_BATCH = 1000  # answers deleted per statement: a big first prune never holds the table for long
TOP_QUESTIONS = 10
CLOSE_TIMEOUT = 2.0
UNAVAILABLE = "the feedback database is unavailable; try again shortly"


class Session(Protocol):
    def query(self, sql: str, **params) -> list[dict]: ...

    def execute(self, sql: str, **params) -> int: ...

    def execute_many(self, sql: str, rows: list[dict]) -> None: ...


class Database(Protocol):
    """What a dialect gives the store: blocking calls, to be run off the event loop."""

    dialect: str

    def session(self) -> AbstractContextManager[Session]: ...

    def transaction(self) -> AbstractContextManager[Session]: ...

    def migrate(self) -> list[int]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...

    def describe_error(self, error: BaseException) -> str: ...

    def is_unavailable(self, error: BaseException) -> bool: ...

    def is_broken(self, error: BaseException) -> bool: ...

    def day(self, column: str) -> str: ...

    def timestamp(self, value: datetime) -> object: ...


class SqlStore:
    """The Store of lib.storage over a Database; see the Protocol there for the contract."""

    def __init__(
        self,
        database: Database,
        *,
        timeout: float,
        store_queries: bool = True,
        workers: int = 4,
        queue_size: int = 1000,
    ):
        self._database = database
        self._timeout = timeout
        self._store_queries = store_queries
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"store-{database.dialect}")
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._closed = False
        self._answers = AnswerLog(
            self._write_answers, capacity=queue_size, describe_error=database.describe_error
        )

    async def migrate(self) -> None:
        await self._call(self._migrate, needs_schema=False)

    async def ping(self) -> None:
        await self._call(self._database.ping, needs_schema=False)

    async def record_feedback(self, record: FeedbackRecord) -> FeedbackResult:
        return await self._call(self._record_feedback, record)

    def log_answer(self, record: AnswerRecord) -> None:
        try:
            if not self._store_queries:
                record = attrs.evolve(record, query=None)
            self._answers.put(record)
        except Exception:  # never let logging an answer break the answer
            log.exception("answer log: could not take an answer")

    async def list_feedback(
        self,
        rating: int | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> FeedbackPage:
        if rating is not None and rating not in (1, -1):
            raise InvalidRequest(f"rating must be 1 or -1, got {rating!r}", field="rating")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be from 1 to {MAX_PAGE}, got {limit!r}", field="limit")
        filters = {"rating": rating, "reason": reason, "since": since, "until": until}
        params = {name: value for name, value in filters.items() if value is not None}
        for name in ("since", "until"):
            if name in params:
                params[name] = self._database.timestamp(_utc(params[name], name))
        present = list(params)
        if before is not None:
            before_at, before_id = decode_cursor(before)
            params["before_at"] = self._database.timestamp(before_at)
            params["before_id"] = before_id
            present.append("before")
        sql = queries.SELECT_FEEDBACK_PAGE.format(conditions=queries.where(queries.FEEDBACK_FILTERS, present))
        rows = await self._call(self._query, sql, {**params, "limit": limit + 1})
        items = tuple(_feedback_item(row, self._store_queries) for row in rows[:limit])
        next_before = None
        if len(rows) > limit:
            last = items[-1]
            next_before = _encode_cursor(last["created_at"], last["feedback_id"])
        return FeedbackPage(items=items, next_before=next_before)

    async def summary(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        window = {"since": since, "until": until}
        params = {
            name: self._database.timestamp(_utc(value, name)) for name, value in window.items() if value is not None
        }
        by_day, answers, questions = await self._call(self._summary_rows, params)
        return _summary(window, by_day, answers, questions, self._store_queries)

    async def analytics(self, since: datetime, until: datetime, prices: Mapping[str, Price]) -> dict:
        window = {"since": since, "until": until}
        params = {name: self._database.timestamp(_utc(value, name)) for name, value in window.items()}
        rows = await self._call(self._analytics_rows, params)
        return analytics.report(
            since=since, until=until, **rows, prices=prices, show_queries=self._store_queries
        )

    async def prune_answers(self, before: datetime) -> int:
        cutoff = self._database.timestamp(_utc(before, "before"))
        removed = 0
        while True:  # one bounded call per batch, each within the timeout
            deleted = await self._call(self._delete_answers, cutoff)
            removed += deleted
            if deleted < PRUNE_BATCH:
                return removed

    async def export_cases(self, rating: int = -1) -> list[dict]:
        if rating not in (1, -1):
            raise InvalidRequest(f"rating must be 1 or -1, got {rating!r}", field="rating")
        rows = await self._call(self._query, queries.SELECT_CASES, {"rating": rating})
        return [_case(row, self._store_queries) for row in rows]

    async def stats(self) -> dict:
        return self._answers.stats()

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._answers.close, timeout)
        await asyncio.to_thread(self._database.close)  # closing a connection talks to the server
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, function: Callable[..., T], *args, needs_schema: bool = True) -> T:
        """Run a blocking call in the store's threads, within the timeout; a down database is Unavailable."""
        if self._closed:
            raise Unavailable(UNAVAILABLE)
        loop = asyncio.get_running_loop()
        work = self._prepared if needs_schema else self._retrying
        try:
            future = loop.run_in_executor(self._executor, work, function, *args)
            return await asyncio.wait_for(future, self._timeout)
        except Exception as error:
            if isinstance(error, TimeoutError) or self._database.is_unavailable(error):
                log.warning("%s is unavailable: %s", self._database.describe(), self._describe(error))
                raise Unavailable(UNAVAILABLE) from None
            raise

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError) and not str(error):
            return f"no answer within {self._timeout:g} s"
        return self._database.describe_error(error)

    def _prepared(self, function: Callable[..., T], *args) -> T:
        """Migrate once before the first call that needs the tables, then run `function`."""
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    self._retrying(self._migrate)
        return self._retrying(function, *args)

    def _retrying(self, function: Callable[..., T], *args) -> T:
        """Run `function`, once more if a pooled connection broke under it.

        After a server restart every pooled connection is stale, and only the
        first use of each tells; the retry gets a connection that is checked or
        new. Every call of the store is idempotent, so a second run is safe.
        """
        try:
            return function(*args)
        except Exception as error:
            if not self._database.is_broken(error):
                raise
            log.info("%s: retrying after a broken connection: %s", self._database.describe(), self._describe(error))
        return function(*args)

    def _migrate(self) -> None:
        applied = self._database.migrate()
        self._schema_ready = True
        if applied:
            log.info("%s: applied migrations %s", self._database.describe(), applied)

    def _query(self, sql: str, params: dict) -> list[dict]:
        with self._database.session() as session:
            return session.query(sql, **params)

    def _record_feedback(self, record: FeedbackRecord) -> FeedbackResult:
        params = {
            "feedback_id": record.feedback_id,
            "answer_id": record.answer_id,
            "rating": record.rating,
            "reason": record.reason,
            "comment": record.comment,
            "query": record.query if self._store_queries else None,
            "answer": record.answer,
            "sources": json.dumps(list(record.sources)),
            "selected_text": record.selected_text if self._store_queries else None,
            "session_id": record.session_id,
            "created_at": self._database.timestamp(record.created_at),
        }
        with self._database.session() as session:
            rows = session.query(queries.INSERT_FEEDBACK, **params)
            created = bool(rows)
            if not created:
                rows = session.query(queries.SELECT_FEEDBACK_KNOWN, feedback_id=record.feedback_id)
        return FeedbackResult(id=record.feedback_id, created=created, answer_known=bool(rows[0]["answer_known"]))

    def _write_answers(self, records: Sequence[AnswerRecord]) -> None:
        self._prepared(self._insert_answers, records)

    def _insert_answers(self, records: Sequence[AnswerRecord]) -> None:
        batch = queries.BATCHES[self._database.dialect]
        with self._database.transaction() as session:
            session.execute_many(batch["insert_answers"], [self._answer_params(record) for record in records])
            session.execute_many(batch["mark_answers_known"], [{"id": record.id} for record in records])

    def _answer_params(self, record: AnswerRecord) -> dict:
        return {
            "id": record.id,
            "created_at": self._database.timestamp(record.created_at),
            "query": record.query,
            "mode": record.mode,
            "answerable": record.answerable,
            "refusal_reason": record.refusal_reason,
            "retrieved": json.dumps([list(pair) for pair in record.retrieved]),
            "cited": json.dumps(list(record.cited)),
            "model": record.model,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "latency_ms": record.latency_ms,
            "collection": record.collection,
            "index_version": record.index_version,
            "session_id": record.session_id,
        }

    def _summary_rows(self, params: dict) -> tuple[list[dict], list[dict], list[dict]]:
        feedback_where = queries.where(queries.FEEDBACK_FILTERS, params)
        answers_where = queries.where(queries.ANSWER_FILTERS, params)
        by_day = queries.COUNT_FEEDBACK_BY_DAY.format(
            day=self._database.day("f.created_at"), conditions=feedback_where
        )
        answers = queries.COUNT_ANSWERS.format(conditions=answers_where)
        questions = queries.MOST_DOWN_VOTED.format(conditions=feedback_where)
        with self._database.session() as session:
            return (
                session.query(by_day, **params),
                session.query(answers, **params),
                session.query(questions, **params, top=TOP_QUESTIONS),
            )

    def _analytics_rows(self, params: dict) -> dict[str, list[dict]]:
        answers_day, feedback_day = self._database.day("a.created_at"), self._database.day("f.created_at")
        with self._database.session() as session:
            down_voted = session.query(analytics.DOWN_VOTED, **params, top=analytics.TOP)
            ids = {f"id_{n}": row["answer_id"] for n, row in enumerate(down_voted)}
            details = analytics.DOWN_VOTED_DETAILS.format(ids=analytics.id_list(len(ids)))
            return {
                "answers": session.query(analytics.ANSWERS_BY_DAY.format(day=answers_day), **params),
                "latencies": session.query(analytics.LATENCIES.format(day=answers_day), **params),
                "feedback": session.query(analytics.FEEDBACK_BY_DAY.format(day=feedback_day), **params),
                "questions": session.query(analytics.QUESTIONS, **params),
                "down_voted": down_voted,
                "details": session.query(details, **params, **ids) if ids else [],
            }

    def _delete_answers(self, cutoff) -> int:
        with self._database.session() as session:
            return session.execute(queries.DELETE_OLD_ANSWERS, before=cutoff, batch=PRUNE_BATCH)


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest(f"{name} must be a date and time with a time zone", field=name)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in the year 10000 in UTC, 0001-01-01T00:00+14:00 in year 0
        raise InvalidRequest(f"{name} must be a time between the years 1 and 9999 in UTC", field=name) from None


def _encode_cursor(created_at: str, feedback_id: str) -> str:
    raw = json.dumps([created_at, feedback_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """What a page's next_before stands for: the time and id of its last item; InvalidRequest naming `before` if it
    is no such cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, feedback_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None or not isinstance(feedback_id, str):
            raise ValueError
        return moment.astimezone(timezone.utc), feedback_id
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("before must be the next_before of a previous page", field="before") from None


def _retrieved(text: str | None) -> list[dict]:
    return [{"chunk_id": chunk_id, "score": score} for chunk_id, score in stored_retrieved(text)]


def _question(row: dict, show_queries: bool) -> str | None:
    """The question a row holds, from the answer log or the reader's snapshot; None with STORE_QUERIES=false, even
    for a row stored before the switch."""
    if not show_queries:
        return None
    return row["answer_query"] if row["answer_query"] is not None else row["feedback_query"]


def _feedback_item(row: dict, show_queries: bool) -> dict:
    known = row["mode"] is not None
    return {
        "feedback_id": row["feedback_id"],
        "answer_id": row["answer_id"],
        "rating": row["rating"],
        "reason": row["reason"],
        "comment": row["comment"],
        "created_at": iso(row["created_at"]),
        "query": _question(row, show_queries),
        "answer": row["answer"],
        "sources": stored_sources(row["sources"]),
        "selected_text": row["selected_text"] if show_queries else None,
        "session_id": row["session_id"],
        # The flag can miss an answer written at the very moment of the vote; the join can't.
        "answer_known": bool(row["answer_known"]) or known,
        "mode": row["mode"],
        "answerable": bool(row["answerable"]) if known else None,
        "refusal_reason": row["refusal_reason"],
        "retrieved": _retrieved(row["retrieved"]),
        "cited": stored_cited(row["cited"]),
        "model": row["model"],
        "collection": row["collection"],
        "index_version": row["index_version"],
        "answered_at": iso(row["answered_at"]),
    }


def _case(row: dict, show_queries: bool) -> dict:
    if row["retrieved"] is not None:
        retrieved = [chunk_id for chunk_id, _ in stored_retrieved(row["retrieved"])]
    else:  # the answer was never logged: the reader's snapshot of the sources is all there is
        retrieved = [s["chunk_id"] for s in stored_sources(row["sources"]) if isinstance(s.get("chunk_id"), str) and s["chunk_id"]]
    return {
        "query": _question(row, show_queries),
        "retrieved": retrieved,
        "reason": row["reason"],
        "comment": row["comment"],
        "answer_id": row["answer_id"],
        "feedback_id": row["feedback_id"],
    }


def _summary(window: dict, by_day: list[dict], answers: list[dict], questions: list[dict], show_queries: bool) -> dict:
    days: dict[str, dict] = {}
    totals = {"total": 0, "up": 0, "down": 0, "by_reason": {}}
    for row in by_day:
        day = days.setdefault(row["day"], {"day": row["day"], "up": 0, "down": 0, "by_reason": {}})
        vote = "up" if row["rating"] == 1 else "down"
        count = int(row["n"])
        for bucket in (day, totals):
            bucket[vote] += count
            if row["reason"] is not None:
                bucket["by_reason"][row["reason"]] = bucket["by_reason"].get(row["reason"], 0) + count
        totals["total"] += count
    logged = sum(int(row["n"]) for row in answers)
    refusals: dict[str, int] = {}
    for row in answers:
        if not row["answerable"]:
            reason = row["refusal_reason"] or "unknown"
            refusals[reason] = refusals.get(reason, 0) + int(row["n"])
    unanswerable = sum(refusals.values())
    return {
        "since": iso(window["since"]),
        "until": iso(window["until"]),
        "feedback": totals,
        "by_day": list(days.values()),
        "answers": {
            "total": logged,
            "unanswerable": unanswerable,
            "unanswerable_share": round(unanswerable / logged, 4) if logged else None,
            "by_refusal_reason": refusals,
        },
        "most_down_voted": [
            {"query": row["query"] if show_queries else None, "down_votes": int(row["down_votes"]), "last_at": iso(row["last_at"])}
            for row in questions
        ],
    }
