"""A log of answers and ratings at known times, and what the analytics of its week must say, worked out by hand.

The week is the seven UTC days that end with `last`. Day 1 and day 2 are busy,
days 3 to 6 are quiet (a rating on day 3, no answer), day 7 has one answer at
its last microsecond. One answer and one rating sit a microsecond before the
week, one of each at the first instant after it: all four must be left out.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone

from lib.storage import AnswerRecord, FeedbackRecord

MINI = "gpt-4o-mini"
MINI_SNAPSHOT = "gpt-4o-mini-2024-07-18"  # as OpenAI names the model in its replies
UNPRICED = "mystery-model"

ROS = "How do ROS 2 nodes talk?"
ROS_SHOUTED = "how do  ROS 2 nodes TALK?"  # the same question but for case and whitespace
BREAD = "How do I bake sourdough bread?"
WEATHER = "What is the weather in Lisbon?"
GPU = "Which GPU does Isaac Sim need?"
DEPLOY = "How do I deploy to a Space?"
OLD = "A question from before the week"
NEW = "A question from after the week"
GONE = "Where did the deploy link go?"  # only in a rating's snapshot: its answer was never logged
QUESTIONS = (ROS, ROS_SHOUTED, BREAD, WEATHER, GPU, DEPLOY, OLD, NEW, GONE)

ARCHITECTURE = {
    "n": 1, "chunk_id": "ch-1", "title": "ROS 2 Architecture", "section": "Nodes and topics",
    "url": "/docs/module-1/ros2-architecture#nodes-and-topics", "score": 0.83, "snippet": "Nodes publish …",
}
DDS = {
    "n": 2, "chunk_id": "ch-2", "title": "ROS 2 Architecture", "section": "DDS",
    "url": "/docs/module-1/ros2-architecture#dds", "score": 0.71, "snippet": "DDS is …",
}
LINKS = {"n": 1, "chunk_id": "ch-9", "title": "Deploy", "section": "Links", "url": "/docs/deploy#links"}
WRONG_COMMENT = "It says DDS, but the chapter says topics"
VAGUE_COMMENT = "Too vague"
GONE_COMMENT = "The link is broken"


def section(source: dict) -> dict:
    return {name: source[name] for name in ("chunk_id", "title", "section", "url")}


class Week:
    """The timestamps of the seeded week that ends with the UTC day `last`."""

    def __init__(self, last: date):
        self.last = last
        self.first = last - timedelta(days=6)
        self.since = datetime.combine(self.first, time(), tzinfo=timezone.utc)
        self.until = self.since + timedelta(days=7)

    def day(self, n: int) -> str:
        return (self.first + timedelta(days=n - 1)).isoformat()

    def at(self, n: int, hour: int, minute: int = 0) -> datetime:
        return self.since + timedelta(days=n - 1, hours=hour, minutes=minute)


def answers(week: Week) -> list[AnswerRecord]:
    def answer(id, at, query, *, mode="rag", refusal=None, model=None, tokens=(0, 0), latency, cited=()):
        return AnswerRecord(
            id=id, created_at=at, query=query, mode=mode, answerable=refusal is None, refusal_reason=refusal,
            retrieved=[(chunk, 0.5) for chunk in cited], cited=cited, model=model, prompt_tokens=tokens[0],
            completion_tokens=tokens[1], latency_ms=latency, collection="book_chunks_v1", index_version="v1",
        )

    tick = timedelta(microseconds=1)
    return [
        answer("a0", week.since - tick, OLD, model=MINI, tokens=(7, 7), latency=5000),
        answer("a1", week.at(1, 9), ROS, model=MINI_SNAPSHOT, tokens=(1000, 200), latency=100, cited=["ch-1"]),
        answer("a2", week.at(1, 10), ROS_SHOUTED, model=MINI, tokens=(2000, 400), latency=300, cited=["ch-2", "ch-1"]),
        answer("a3", week.at(1, 11), BREAD, refusal="low_score", latency=50),
        answer("a4", week.at(2, 9), ROS, mode="extractive", latency=20, cited=["ch-1"]),
        answer("a5", week.at(2, 10), BREAD, refusal="low_score", latency=40),
        answer("a6", week.at(2, 11), WEATHER, refusal="no_hits", latency=10),
        answer("a7", week.at(2, 12), GPU, model=UNPRICED, tokens=(500, 100), latency=900),
        answer("a8", week.until - tick, DEPLOY, model=MINI, tokens=(100, 50), latency=200),
        answer("a9", week.until, NEW, model=MINI, tokens=(9, 9), latency=7000),
    ]


def ratings(week: Week) -> list[FeedbackRecord]:
    def rating(answer_id, value, at, reason=None, comment=None, **snapshot):
        return FeedbackRecord(answer_id=answer_id, rating=value, created_at=at, reason=reason, comment=comment, **snapshot)

    tick = timedelta(microseconds=1)
    return [
        rating("a1", -1, week.since - tick, "wrong", "before the week"),
        rating("a1", -1, week.at(1, 10), "wrong", WRONG_COMMENT, query=ROS, answer="Nodes talk over DDS [1].",
               sources=[ARCHITECTURE, DDS]),
        rating("a1", -1, week.at(2, 9), "incomplete"),
        rating("a2", -1, week.at(2, 10), "unclear", VAGUE_COMMENT, answer="They talk [1][2].", sources=[DDS, ARCHITECTURE]),
        rating("a2", 1, week.at(2, 11)),
        rating("ans_gone", -1, week.at(3, 8), "wrong", GONE_COMMENT, query=GONE, answer="See [1].", sources=[LINKS]),
        rating("a8", 1, week.at(7, 12)),
        rating("a7", -1, week.at(7, 13)),
        rating("a2", -1, week.until, "wrong", "after the week"),
    ]


async def seed(store, week: Week) -> None:
    """Write the week's answers through the answer log, then its ratings, as the service would."""
    logged = answers(week)
    for record in logged:
        store.log_answer(record)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await store.stats())["answers_logged"] < len(logged):
        assert loop.time() < deadline, await store.stats()
        await asyncio.sleep(0.02)
    for record in ratings(week):
        await store.record_feedback(record)


def quiet_day(day: str) -> dict:
    return {
        "day": day, "questions": 0, "answered": 0, "extractive": 0, "refused": 0, "refusal_reasons": {},
        "up": 0, "down": 0, "down_reasons": {}, "latency_ms": {"p50": None, "p95": None},
        "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0,
        "shares": {"answered": None, "extractive": None, "refused": None, "refusal_reasons": {}},
    }


def expected_by_day(week: Week) -> list[dict]:
    """Each day of the week, by hand. Latencies by nearest rank: rank ceil(p/100 * n) of the sorted values."""
    day1 = {
        **quiet_day(week.day(1)), "questions": 3, "answered": 2, "refused": 1, "refusal_reasons": {"low_score": 1},
        "down": 1, "down_reasons": {"wrong": 1},
        # 50, 100, 300: p50 is rank ceil(1.5) = 2, p95 rank ceil(2.85) = 3
        "latency_ms": {"p50": 100.0, "p95": 300.0},
        # gpt-4o-mini and its snapshot at 0.15 / 0.60 USD per million: (3000 * 0.15 + 600 * 0.60) / 1e6
        "prompt_tokens": 3000, "completion_tokens": 600, "cost_usd": 0.00081,
        "shares": {"answered": 0.6667, "extractive": 0.0, "refused": 0.3333, "refusal_reasons": {"low_score": 0.3333}},
    }
    day2 = {
        **quiet_day(week.day(2)), "questions": 4, "answered": 1, "extractive": 1, "refused": 2,
        "refusal_reasons": {"low_score": 1, "no_hits": 1}, "up": 1, "down": 2,
        "down_reasons": {"incomplete": 1, "unclear": 1},
        # 10, 20, 40, 900: p50 is rank 2, p95 rank ceil(3.8) = 4
        "latency_ms": {"p50": 20.0, "p95": 900.0},
        "prompt_tokens": 500, "completion_tokens": 100, "cost_usd": None,  # the mystery model has no price
        "shares": {"answered": 0.25, "extractive": 0.25, "refused": 0.5, "refusal_reasons": {"low_score": 0.25, "no_hits": 0.25}},
    }
    day3 = {**quiet_day(week.day(3)), "down": 1, "down_reasons": {"wrong": 1}}
    day7 = {
        **quiet_day(week.day(7)), "questions": 1, "answered": 1, "up": 1, "down": 1,
        "latency_ms": {"p50": 200.0, "p95": 200.0},
        "prompt_tokens": 100, "completion_tokens": 50, "cost_usd": 0.000045,  # (100 * 0.15 + 50 * 0.60) / 1e6
        "shares": {"answered": 1.0, "extractive": 0.0, "refused": 0.0, "refusal_reasons": {}},
    }
    return [day1, day2, day3, *(quiet_day(week.day(n)) for n in (4, 5, 6)), day7]


EXPECTED_TOTALS = {
    "questions": 8, "answered": 4, "extractive": 1, "refused": 3, "refusal_reasons": {"low_score": 2, "no_hits": 1},
    "up": 2, "down": 5, "down_reasons": {"wrong": 2, "incomplete": 1, "unclear": 1},
    # 10, 20, 40, 50, 100, 200, 300, 900: p50 is rank 4, p95 rank ceil(7.6) = 8
    "latency_ms": {"p50": 50.0, "p95": 900.0},
    "prompt_tokens": 3600, "completion_tokens": 750, "cost_usd": None,
    "shares": {
        "answered": 0.5, "extractive": 0.125, "refused": 0.375, "refusal_reasons": {"low_score": 0.25, "no_hits": 0.125},
    },
}

EXPECTED_MODELS = [
    {"model": MINI, "answers": 2, "prompt_tokens": 2100, "completion_tokens": 450,
     "price_per_million": {"prompt": 0.15, "completion": 0.6}, "cost_usd": 0.000585},
    {"model": MINI_SNAPSHOT, "answers": 1, "prompt_tokens": 1000, "completion_tokens": 200,
     "price_per_million": {"prompt": 0.15, "completion": 0.6}, "cost_usd": 0.00027},
    {"model": UNPRICED, "answers": 1, "prompt_tokens": 500, "completion_tokens": 100, "price_per_million": None, "cost_usd": None},
]

EXPECTED_MOST_ASKED = [
    {"query": ROS, "count": 3, "refused": 0},  # ROS twice and ROS_SHOUTED once
    {"query": BREAD, "count": 2, "refused": 2},
    {"query": DEPLOY, "count": 1, "refused": 0},  # the ones asked once, by their normalised text
    {"query": WEATHER, "count": 1, "refused": 1},
    {"query": GPU, "count": 1, "refused": 0},
]

EXPECTED_MOST_REFUSED = [
    {"query": BREAD, "count": 2, "reasons": {"low_score": 2}},
    {"query": WEATHER, "count": 1, "reasons": {"no_hits": 1}},
]


def expected_most_down_voted(week: Week) -> list[dict]:
    """a1 has two down votes; the others one each, the latest down vote first."""
    def at(n, hour):
        return week.at(n, hour).isoformat()

    return [
        {
            "answer_id": "a1", "down": 2, "up": 0, "last_down_at": at(2, 9), "query": ROS,
            "answer": "Nodes talk over DDS [1].", "mode": "rag", "model": MINI_SNAPSHOT, "answered_at": at(1, 9),
            "answer_logged": True, "reasons": {"incomplete": 1, "wrong": 1},
            "comments": [{"rating": -1, "reason": "wrong", "comment": WRONG_COMMENT, "at": at(1, 10)}],
            "cited": [section(ARCHITECTURE)],
        },
        {
            "answer_id": "a7", "down": 1, "up": 0, "last_down_at": at(7, 13), "query": GPU, "answer": None,
            "mode": "rag", "model": UNPRICED, "answered_at": at(2, 12), "answer_logged": True, "reasons": {},
            "comments": [], "cited": [],
        },
        {
            "answer_id": "ans_gone", "down": 1, "up": 0, "last_down_at": at(3, 8), "query": GONE, "answer": "See [1].",
            "mode": None, "model": None, "answered_at": None, "answer_logged": False, "reasons": {"wrong": 1},
            "comments": [{"rating": -1, "reason": "wrong", "comment": GONE_COMMENT, "at": at(3, 8)}],
            "cited": [section(LINKS)],  # never logged: the sources the reader saw
        },
        {
            "answer_id": "a2", "down": 1, "up": 1, "last_down_at": at(2, 10), "query": ROS_SHOUTED,
            "answer": "They talk [1][2].", "mode": "rag", "model": MINI, "answered_at": at(1, 10), "answer_logged": True,
            "reasons": {"unclear": 1},
            "comments": [{"rating": -1, "reason": "unclear", "comment": VAGUE_COMMENT, "at": at(2, 10)}],
            "cited": [section(DDS), section(ARCHITECTURE)],
        },
    ]
