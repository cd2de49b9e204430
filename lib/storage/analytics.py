"""The author's analytics: the answer log and the feedback of a window of UTC days, counted and shaped.

The SQL counts and sums per day in the database, the same on PostgreSQL and
SQLite; what SQL can't say the same way on both is done here, in Python:

- latency percentiles by the nearest-rank definition: the p-th percentile of
  n sorted values is the value at rank ceil(p / 100 * n), counting from 1
  (p50 of 10, 20, 30, 40 is 20; p95 of 1 … 20 is 19). It is always a latency
  that was measured, never an interpolation;
- questions counted together when they differ only by case and whitespace
  (str.casefold, runs of whitespace made one space), shown as the text most
  often asked among them.

With STORE_QUERIES=false no question text leaves this module, not even one
logged before the switch: every text is None and the counts stay.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping

from lib import pricing
from lib.storage.records import iso, stored_cited, stored_sources

TOP = 10  # rows of each table
OUTCOMES = ("answered", "extractive", "refused")
_SOURCE_TEXT_FIELDS = ("chunk_id", "title", "section", "url")
_MAX_COMMENTS = 20  # per answer; the count of down votes says how many there were

ANSWER_WINDOW = "a.created_at >= :since AND a.created_at < :until"
FEEDBACK_WINDOW = "f.created_at >= :since AND f.created_at < :until"

ANSWERS_BY_DAY = f"""
SELECT {{day}} AS day, a.answerable, a.mode, a.refusal_reason, a.model, COUNT(*) AS n,
       SUM(a.prompt_tokens) AS prompt_tokens, SUM(a.completion_tokens) AS completion_tokens
FROM answers a
WHERE {ANSWER_WINDOW}
GROUP BY {{day}}, a.answerable, a.mode, a.refusal_reason, a.model
"""

# One value a row, sorted: the percentiles need them all.
LATENCIES = f"""
SELECT {{day}} AS day, a.latency_ms
FROM answers a
WHERE {ANSWER_WINDOW}
ORDER BY a.latency_ms
"""

FEEDBACK_BY_DAY = f"""
SELECT {{day}} AS day, f.rating, f.reason, COUNT(*) AS n
FROM feedback f
WHERE {FEEDBACK_WINDOW}
GROUP BY {{day}}, f.rating, f.reason
"""

# Exact texts only; case and whitespace are merged in Python, the same way on both databases.
QUESTIONS = f"""
SELECT a.query, a.answerable, a.refusal_reason, COUNT(*) AS n
FROM answers a
WHERE {ANSWER_WINDOW} AND a.query IS NOT NULL
GROUP BY a.query, a.answerable, a.refusal_reason
"""

DOWN_VOTED = f"""
SELECT f.answer_id,
       SUM(CASE WHEN f.rating = -1 THEN 1 ELSE 0 END) AS down,
       SUM(CASE WHEN f.rating = 1 THEN 1 ELSE 0 END) AS up,
       MAX(CASE WHEN f.rating = -1 THEN f.created_at END) AS last_down_at
FROM feedback f
WHERE {FEEDBACK_WINDOW}
GROUP BY f.answer_id
HAVING SUM(CASE WHEN f.rating = -1 THEN 1 ELSE 0 END) > 0
ORDER BY down DESC, last_down_at DESC, f.answer_id
LIMIT :top
"""

DOWN_VOTED_DETAILS = f"""
SELECT f.answer_id, f.rating, f.reason, f.comment, f.query AS feedback_query, f.answer, f.sources,
       f.created_at, a.query AS answer_query, a.cited, a.mode, a.model, a.created_at AS answered_at
FROM feedback f LEFT JOIN answers a ON a.id = f.answer_id
WHERE f.answer_id IN ({{ids}}) AND {FEEDBACK_WINDOW}
ORDER BY f.created_at, f.feedback_id
"""


def id_list(count: int) -> str:
    """Placeholders for an IN list of `count` values (:id_0, :id_1, …), never the values themselves."""
    return ", ".join(f":id_{n}" for n in range(count)) or "NULL"


def window(end: date, days: int) -> tuple[datetime, datetime]:
    """The `days` UTC days that end with `end`, as [since, until): from midnight to midnight.

    At the ends of the calendar (year 1, year 9999) the window is cut short rather than overflow.
    """
    midnight = datetime.combine(end, time(), tzinfo=timezone.utc)
    try:
        until = midnight + timedelta(days=1)
    except OverflowError:
        until = datetime.max.replace(tzinfo=timezone.utc)
    try:
        since = midnight - timedelta(days=days - 1)
    except OverflowError:
        since = datetime.min.replace(tzinfo=timezone.utc)
    return since, until


def days_between(since: datetime, until: datetime) -> list[str]:
    """Every UTC day from `since` up to, not including, `until`, as 'YYYY-MM-DD'."""
    first = since.astimezone(timezone.utc).date()
    last = (until.astimezone(timezone.utc) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def nearest_rank(ordered: list[float], percent: float) -> float | None:
    """The nearest-rank percentile of values sorted in ascending order; None when there are none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def normalised(question: str) -> str:
    """The key under which questions are counted together: no case, one space between words."""
    return " ".join(question.casefold().split())


def report(
    *,
    since: datetime,
    until: datetime,
    answers: list[dict],
    latencies: list[dict],
    feedback: list[dict],
    questions: list[dict],
    down_voted: list[dict],
    details: list[dict],
    prices: Mapping[str, pricing.Price],
    show_queries: bool,
) -> dict:
    """The rows of the queries above as the analytics JSON: per day, in total, and the three tables."""
    days = {day: _empty_day(day) for day in days_between(since, until)}
    totals = _empty_day(None)
    models: dict[str | None, dict] = {}
    for row in answers:
        buckets = [bucket for bucket in (days.get(row["day"]), totals) if bucket is not None]
        _count_answers(row, buckets, models)
    by_day_latency: dict[str, list[float]] = defaultdict(list)
    every_latency: list[float] = []
    for row in latencies:  # already sorted, so each day's list is too
        by_day_latency[row["day"]].append(float(row["latency_ms"]))
        every_latency.append(float(row["latency_ms"]))
    for row in feedback:
        for bucket in (days.get(row["day"]), totals):
            if bucket is not None:
                _count_vote(row, bucket)
    for day, bucket in days.items():
        _finish(bucket, by_day_latency.get(day, []), prices)
    _finish(totals, every_latency, prices)
    del totals["day"]
    return {
        "since": since.astimezone(timezone.utc).isoformat(),
        "until": until.astimezone(timezone.utc).isoformat(),
        "queries_hidden": not show_queries,
        "totals": totals,
        "by_day": list(days.values()),
        "models": _models(models, prices),
        **_question_tables(questions, show_queries),
        "most_down_voted": _down_voted(down_voted, details, show_queries),
    }


def _empty_day(day: str | None) -> dict:
    return {
        "day": day,
        "questions": 0,
        "answered": 0,  # by the language model, or from the reader's selection
        "extractive": 0,  # quoted from the best passages, without a model
        "refused": 0,
        "refusal_reasons": {},
        "up": 0,
        "down": 0,
        "down_reasons": {},
        "latency_ms": {"p50": None, "p95": None},
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "_tokens_by_model": defaultdict(lambda: [0, 0]),
    }


def _outcome(row: dict) -> str:
    if not row["answerable"]:
        return "refused"
    return "extractive" if row["mode"] == "extractive" else "answered"


def _count_answers(row: dict, buckets: list[dict], models: dict) -> None:
    count, prompt, completion = int(row["n"]), int(row["prompt_tokens"] or 0), int(row["completion_tokens"] or 0)
    outcome = _outcome(row)
    for bucket in buckets:
        bucket["questions"] += count
        bucket[outcome] += count
        if outcome == "refused":
            reason = row["refusal_reason"] or "unknown"
            bucket["refusal_reasons"][reason] = bucket["refusal_reasons"].get(reason, 0) + count
        bucket["prompt_tokens"] += prompt
        bucket["completion_tokens"] += completion
        tokens = bucket["_tokens_by_model"][row["model"]]
        tokens[0] += prompt
        tokens[1] += completion
    if row["model"] is not None or prompt or completion:
        model = models.setdefault(row["model"], {"answers": 0, "prompt_tokens": 0, "completion_tokens": 0})
        model["answers"] += count
        model["prompt_tokens"] += prompt
        model["completion_tokens"] += completion


def _count_vote(row: dict, bucket: dict) -> None:
    count = int(row["n"])
    if row["rating"] == 1:
        bucket["up"] += count
        return
    bucket["down"] += count
    if row["reason"] is not None:
        bucket["down_reasons"][row["reason"]] = bucket["down_reasons"].get(row["reason"], 0) + count


def _finish(bucket: dict, latencies: list[float], prices: Mapping[str, pricing.Price]) -> None:
    """Add what is computed from the counts: shares, percentiles and the cost; drop the working totals."""
    total = bucket["questions"]
    bucket["shares"] = {name: _share(bucket[name], total) for name in OUTCOMES}
    bucket["shares"]["refusal_reasons"] = {reason: _share(n, total) for reason, n in bucket["refusal_reasons"].items()}
    bucket["latency_ms"] = {"p50": nearest_rank(latencies, 50), "p95": nearest_rank(latencies, 95)}
    costs = [pricing.cost(model, prompt, completion, prices) for model, (prompt, completion) in bucket.pop("_tokens_by_model").items()]
    bucket["cost_usd"] = None if None in costs else _dollars(sum(costs))


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _dollars(amount: float) -> float:
    return round(amount, 8)


def _models(models: dict, prices: Mapping[str, pricing.Price]) -> list[dict]:
    listed = []
    for name, counted in models.items():
        price = pricing.price_of(name, prices)
        cost = pricing.cost(name, counted["prompt_tokens"], counted["completion_tokens"], prices)
        listed.append(
            {
                "model": name,
                **counted,
                "price_per_million": {"prompt": price.prompt, "completion": price.completion} if price else None,
                "cost_usd": None if cost is None else _dollars(cost),
            }
        )
    return sorted(listed, key=lambda model: (-model["prompt_tokens"] - model["completion_tokens"], model["model"] or ""))


def _question_tables(rows: list[dict], show_queries: bool) -> dict:
    """The most asked and the most refused questions, each kind counted under its normalised text."""
    asked: dict[str, Counter] = defaultdict(Counter)  # key -> text variant -> times
    refused: dict[str, Counter] = defaultdict(Counter)  # key -> refusal reason -> times
    for row in rows:
        key, count = normalised(row["query"]), int(row["n"])
        asked[key][row["query"]] += count
        if not row["answerable"]:
            refused[key][row["refusal_reason"] or "unknown"] += count

    def text(key: str) -> str | None:
        # The variant asked most, the first in sort order among equals: the same answer every time.
        return min(asked[key].items(), key=lambda item: (-item[1], item[0]))[0] if show_queries else None

    def top(counters: dict[str, Counter]) -> list[str]:
        return sorted(counters, key=lambda key: (-sum(counters[key].values()), key))[:TOP]

    return {
        "most_asked": [
            {"query": text(key), "count": sum(asked[key].values()), "refused": sum(refused.get(key, Counter()).values())}
            for key in top(asked)
        ],
        "most_refused": [
            {"query": text(key), "count": sum(refused[key].values()), "reasons": dict(sorted(refused[key].items()))}
            for key in top(refused)
        ],
    }


def _down_voted(top: list[dict], details: list[dict], show_queries: bool) -> list[dict]:
    """The answers with the most down votes, each with its question, text, comments and cited sections."""
    rows_of: dict[str, list[dict]] = defaultdict(list)
    for row in details:
        rows_of[row["answer_id"]].append(row)
    return [_answer_detail(summary, rows_of[summary["answer_id"]], show_queries) for summary in top]


def _answer_detail(summary: dict, rows: list[dict], show_queries: bool) -> dict:
    logged = next((row for row in rows if row["mode"] is not None), None)
    snapshots = [row for row in rows if row["answer"] is not None]
    question = logged["answer_query"] if logged and logged["answer_query"] is not None else None
    if question is None:
        question = next((row["feedback_query"] for row in reversed(rows) if row["feedback_query"] is not None), None)
    sources = _sources_seen(rows)
    if logged is not None:  # the answer log knows what the answer cited
        cited = [sources.get(chunk_id, {"chunk_id": chunk_id}) for chunk_id in stored_cited(logged["cited"])]
    else:  # pruned or never logged: what the reader saw is all there is
        cited = list(sources.values())
    downs = Counter(row["reason"] for row in rows if row["rating"] == -1 and row["reason"] is not None)
    return {
        "answer_id": summary["answer_id"],
        "down": int(summary["down"]),
        "up": int(summary["up"]),
        "last_down_at": iso(summary["last_down_at"]),
        "query": question if show_queries else None,
        "answer": snapshots[-1]["answer"] if snapshots else None,
        "mode": logged["mode"] if logged else None,
        "model": logged["model"] if logged else None,
        "answered_at": iso(logged["answered_at"]) if logged else None,
        "answer_logged": logged is not None,
        "reasons": dict(sorted(downs.items())),
        "comments": [
            {"rating": row["rating"], "reason": row["reason"], "comment": row["comment"], "at": iso(row["created_at"])}
            for row in rows
            if row["comment"]
        ][-_MAX_COMMENTS:],
        "cited": cited,
    }


def _sources_seen(rows: Iterable[dict]) -> dict[str, dict]:
    """The sources of the readers' snapshots by chunk id, with only their text fields (a client sent them)."""
    found: dict[str, dict] = {}
    for row in rows:
        for source in stored_sources(row["sources"]):
            if not isinstance(source.get("chunk_id"), str):
                continue
            found.setdefault(
                source["chunk_id"],
                {name: source[name] for name in _SOURCE_TEXT_FIELDS if isinstance(source.get(name), str)},
            )
    return found
