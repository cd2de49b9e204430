"""The Store contract, the same on SQLite and on PostgreSQL (the `store` fixture runs both)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from lib.config import Config
from lib.errors import InvalidRequest
from tests.lib.storage.conftest import T0, answer, feedback, until_logged

pytestmark = pytest.mark.anyio

ODD_TEXTS = [
    "Robert'); DROP TABLE feedback;--",
    "' OR '1'='1' UNION SELECT * FROM answers --",
    "%s %(query)s :answer_id $1 ? {} \\ \\\\ \"quoted\" `ticks` /* comment */",
    "e\u0301 café 日本語 עברית مرحبا 👩🏽‍🔬 \U0001F600 \u200b\u200d\u2028\u2029 \ufeff \U0010FFFF",
    "tab\there\nnew line\r\nbell\x07 delete\x7f escape\x1b",
    "∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 5000,
    "x" * 100_000,
]


async def test_the_same_feedback_id_twice_stores_one_row(store, sql):
    first = await store.record_feedback(feedback())
    again = await store.record_feedback(feedback(feedback_id=first.id, comment="a retry"))

    assert first.created is True
    assert again.created is False
    assert again.id == first.id
    assert sql(f"SELECT COUNT(*), MAX(comment) FROM feedback WHERE feedback_id = '{first.id}'") == [(1, None)]


async def test_twenty_concurrent_retries_store_exactly_one_row(store, sql):
    record = feedback()

    results = await asyncio.gather(*(store.record_feedback(record) for _ in range(20)))

    assert sum(result.created for result in results) == 1
    assert {result.id for result in results} == {record.feedback_id}
    assert sql("SELECT COUNT(*) FROM feedback") == [(1,)]


async def test_feedback_on_an_unknown_answer_is_stored_and_flagged(store):
    result = await store.record_feedback(feedback("ans_never_logged"))

    assert result.created is True
    assert result.answer_known is False
    (item,) = (await store.list_feedback()).items
    assert item["answer_id"] == "ans_never_logged"
    assert item["answer_known"] is False
    assert item["mode"] is None


async def test_feedback_on_a_logged_answer_is_known(store):
    store.log_answer(answer("ans_1"))
    await until_logged(store, 1)

    result = await store.record_feedback(feedback("ans_1"))

    assert result.answer_known is True


async def test_an_answer_logged_after_its_feedback_makes_it_known(store):
    await store.record_feedback(feedback("ans_late"))

    store.log_answer(answer("ans_late"))
    await until_logged(store, 1)

    (item,) = (await store.list_feedback()).items
    assert item["answer_known"] is True
    assert item["mode"] == "rag"


async def test_log_answer_returns_at_once_and_writes_in_the_background(store, locked_answers):
    with locked_answers():  # nothing can be written: a call that waited for its write would never return
        for n in range(200):
            store.log_answer(answer(f"ans_{n}"))
        assert (await store.stats())["answers_logged"] == 0

    stats = await until_logged(store, 200)

    assert stats["answers_logged"] == 200
    assert stats["answer_log_failures"] == 0
    assert stats["answers_dropped"] == 0


async def test_a_failing_answer_log_is_counted_and_never_raises(store, sql):
    sql("DROP TABLE answers")

    store.log_answer(answer("ans_1"))
    stats = await until_logged(store, 1)

    assert stats["answer_log_failures"] == 1
    assert stats["answers_logged"] == 0


async def test_a_full_answer_queue_drops_and_counts(make_store):
    store = make_store(queue_size=2)

    for n in range(50):
        store.log_answer(answer(f"ans_{n}"))
    stats = await until_logged(store, 50)

    assert stats["answers_dropped"] > 0
    assert stats["answers_logged"] + stats["answers_dropped"] == 50


async def test_close_writes_what_is_queued(make_store, sql):
    store = make_store()
    await store.migrate()
    for n in range(30):
        store.log_answer(answer(f"ans_{n}"))

    await store.close()

    assert sql("SELECT COUNT(*) FROM answers") == [(30,)]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
async def test_odd_text_is_stored_and_read_back_exactly(store, text):
    store.log_answer(answer("ans_odd", query=text, model=text[:200], session_id=text[:128]))
    await until_logged(store, 1)
    record = feedback(
        "ans_odd",
        reason=text[:50],
        comment=text,
        answer=text,
        selected_text=text,
        session_id=text[:128],
        sources=[{"title": text, "n": 1, "score": 0.5, "chunk_id": text[:64]}],
    )

    await store.record_feedback(record)
    (item,) = (await store.list_feedback()).items
    (case,) = await store.export_cases()

    assert item["comment"] == text
    assert item["answer"] == text
    assert item["selected_text"] == text
    assert item["reason"] == text[:50]
    assert item["session_id"] == text[:128]
    assert item["sources"] == [{"title": text, "n": 1, "score": 0.5, "chunk_id": text[:64]}]
    assert item["query"] == text
    assert item["model"] == text[:200]
    assert case["query"] == text


async def test_list_feedback_joins_the_logged_answer(store):
    store.log_answer(answer("ans_1", answerable=False, refusal_reason="low_score"))
    await until_logged(store, 1)
    record = feedback("ans_1", reason="wrong", comment="no", query="reader's copy")

    await store.record_feedback(record)
    (item,) = (await store.list_feedback()).items

    assert item == {
        "feedback_id": record.feedback_id,
        "answer_id": "ans_1",
        "rating": -1,
        "reason": "wrong",
        "comment": "no",
        "created_at": (T0 + timedelta(minutes=1)).isoformat(),
        "query": "How do ROS 2 nodes talk?",
        "answer": None,
        "sources": [],
        "selected_text": None,
        "session_id": None,
        "answer_known": True,
        "mode": "rag",
        "answerable": False,
        "refusal_reason": "low_score",
        "retrieved": [{"chunk_id": "ch-1", "score": 0.83}, {"chunk_id": "ch-2", "score": 0.61}],
        "cited": ["ch-1"],
        "model": "gpt-4o-mini",
        "collection": "book_chunks_v1",
        "index_version": "v1",
        "answered_at": T0.isoformat(),
    }


async def test_list_feedback_filters_by_rating_reason_and_time(store):
    records = [
        feedback("a", rating=-1, reason="wrong", at=T0),
        feedback("b", rating=-1, reason="unclear", at=T0 + timedelta(days=1)),
        feedback("c", rating=1, at=T0 + timedelta(days=2)),
        feedback("d", rating=-1, reason="wrong", at=T0 + timedelta(days=3)),
    ]
    for record in records:
        await store.record_feedback(record)

    async def answer_ids(**filters):
        return [item["answer_id"] for item in (await store.list_feedback(**filters)).items]

    assert await answer_ids() == ["d", "c", "b", "a"]
    assert await answer_ids(rating=1) == ["c"]
    assert await answer_ids(rating=-1) == ["d", "b", "a"]
    assert await answer_ids(reason="wrong") == ["d", "a"]
    assert await answer_ids(since=T0 + timedelta(days=1)) == ["d", "c", "b"]
    assert await answer_ids(until=T0 + timedelta(days=2)) == ["b", "a"]
    assert await answer_ids(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3), rating=-1) == ["b"]


async def test_list_feedback_pages_newest_first_without_gaps_or_repeats(store):
    times = [T0 + timedelta(hours=n) for n in range(4)] + [T0 + timedelta(hours=9)] * 3
    records = [feedback(f"ans_{n}", at=at) for n, at in enumerate(times)]
    for record in records:
        await store.record_feedback(record)
    expected = [r.feedback_id for r in sorted(records, key=lambda r: (r.created_at, r.feedback_id), reverse=True)]

    seen, before, pages = [], None, 0
    while True:
        page = await store.list_feedback(limit=3, before=before)
        seen += [item["feedback_id"] for item in page.items]
        pages += 1
        before = page.next_before
        if before is None:
            break

    assert seen == expected
    assert pages == 3


async def test_list_feedback_pages_within_a_filter(store):
    for n in range(5):
        await store.record_feedback(feedback(f"up_{n}", rating=1, at=T0 + timedelta(hours=n)))
        await store.record_feedback(feedback(f"down_{n}", rating=-1, at=T0 + timedelta(hours=n)))

    first = await store.list_feedback(rating=1, limit=3)
    second = await store.list_feedback(rating=1, limit=3, before=first.next_before)

    assert [i["answer_id"] for i in first.items + second.items] == [f"up_{n}" for n in range(4, -1, -1)]
    assert second.next_before is None


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"before": "not a cursor"}, "before"),
        ({"before": "WyJ4Il0"}, "before"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"rating": 0}, "rating"),
        ({"since": T0.replace(tzinfo=None)}, "since"),
    ],
)
async def test_list_feedback_rejects_a_bad_argument_by_name(store, arguments, field):
    with pytest.raises(InvalidRequest) as raised:
        await store.list_feedback(**arguments)

    assert raised.value.field == field


async def test_summary_counts_votes_reasons_refusals_and_down_voted_questions(store):
    day1, day2 = T0, T0 + timedelta(days=1)
    store.log_answer(answer("a1", at=day1, query="q1"))
    store.log_answer(answer("a2", at=day1, query="q2", answerable=False, refusal_reason="no_hits"))
    store.log_answer(answer("a3", at=day2, query="q3", answerable=False, refusal_reason="low_score"))
    store.log_answer(answer("a4", at=day2, query="q1"))
    await until_logged(store, 4)
    for record in [
        feedback("a1", rating=-1, reason="wrong", at=day1),
        feedback("a4", rating=-1, reason="incomplete", at=day1 + timedelta(hours=1)),
        feedback("a2", rating=1, at=day1 + timedelta(hours=2)),
        feedback("a2", rating=-1, reason="wrong", at=day2),
        feedback("gone", rating=-1, reason="other", query="q9", at=day2 + timedelta(hours=1)),
        feedback("a3", rating=1, at=day2 + timedelta(hours=2)),
    ]:
        await store.record_feedback(record)

    everything = await store.summary()
    second_day = await store.summary(since=day2)

    assert everything["feedback"] == {
        "total": 6,
        "up": 2,
        "down": 4,
        "by_reason": {"wrong": 2, "incomplete": 1, "other": 1},
    }
    assert everything["by_day"] == [
        {"day": "2025-03-01", "up": 1, "down": 2, "by_reason": {"wrong": 1, "incomplete": 1}},
        {"day": "2025-03-02", "up": 1, "down": 2, "by_reason": {"wrong": 1, "other": 1}},
    ]
    assert everything["answers"] == {
        "total": 4,
        "unanswerable": 2,
        "unanswerable_share": 0.5,
        "by_refusal_reason": {"no_hits": 1, "low_score": 1},
    }
    assert [(q["query"], q["down_votes"]) for q in everything["most_down_voted"]] == [
        ("q1", 2),
        ("q9", 1),
        ("q2", 1),
    ]
    assert second_day["since"] == day2.isoformat()
    assert second_day["feedback"]["total"] == 3
    assert [d["day"] for d in second_day["by_day"]] == ["2025-03-02"]
    assert second_day["answers"]["total"] == 2
    assert second_day["answers"]["unanswerable_share"] == 0.5


async def test_summary_of_nothing_is_zero(store):
    summary = await store.summary()

    assert summary["feedback"] == {"total": 0, "up": 0, "down": 0, "by_reason": {}}
    assert summary["answers"]["unanswerable_share"] is None
    assert summary["most_down_voted"] == []


async def test_export_cases_gives_down_voted_answers_oldest_first(store):
    store.log_answer(answer("a1", query="q1", retrieved=[("c1", 0.9), ("c2", 0.4)]))
    await until_logged(store, 1)
    first = feedback("a1", rating=-1, reason="wrong", comment="it says DDS", at=T0)
    unknown = feedback(
        "never_logged",
        rating=-1,
        reason="incomplete",
        query="q2",
        sources=[{"n": 1, "chunk_id": "c7"}, {"n": 2, "chunk_id": "c8"}],
        at=T0 + timedelta(hours=1),
    )
    liked = feedback("a1", rating=1, at=T0 + timedelta(hours=2))
    for record in (unknown, liked, first):
        await store.record_feedback(record)

    cases = await store.export_cases(rating=-1)
    liked_cases = await store.export_cases(rating=1)

    assert cases == [
        {
            "query": "q1",
            "retrieved": ["c1", "c2"],
            "reason": "wrong",
            "comment": "it says DDS",
            "answer_id": "a1",
            "feedback_id": first.feedback_id,
        },
        {
            "query": "q2",
            "retrieved": ["c7", "c8"],
            "reason": "incomplete",
            "comment": None,
            "answer_id": "never_logged",
            "feedback_id": unknown.feedback_id,
        },
    ]
    assert [case["feedback_id"] for case in liked_cases] == [liked.feedback_id]


async def test_store_queries_false_keeps_no_query_text(make_store, sql):
    store = make_store(store_queries=False)
    store.log_answer(answer("ans_1", query="a private question"))
    await until_logged(store, 1)

    await store.record_feedback(feedback("ans_1", query="a private question", comment="kept"))

    assert sql("SELECT query FROM answers") == [(None,)]
    assert sql("SELECT query, comment FROM feedback") == [(None, "kept")]
    (case,) = await store.export_cases()
    assert case["query"] is None


async def test_ping_answers_when_the_database_does(store):
    await store.ping()


async def test_the_first_call_migrates_when_start_up_did_not(make_store):
    store = make_store()

    result = await store.record_feedback(feedback())

    assert result.created is True


# Rows as older versions (or other programs) may have stored them: every reader reads them, none fails.

LONE_SURROGATE = '[{"title": "\\ud800 alone", "chunk_id": "c1", "n": 1}]'  # JSON text, as json.dumps wrote it
NESTED = "[" * 5000 + "]" * 5000  # deeper than any recursion limit
OLD_ROWS = (
    ("f-surrogate", -1, LONE_SURROGATE),
    ("f-nested", -1, NESTED),
    ("f-not-json", -1, "not json at all"),
    ("f-not-a-list", 1, '{"title": "an object, not a list"}'),
    ("f-scalars", 1, '[1, "two", null, {"chunk_id": "c2"}]'),
)


def insert_old_rows(sql, at=T0) -> None:
    stamp = at.isoformat(sep=" ")
    retrieved = '[["c1", 0.5, 9], "x", ["c2", "high"], ["c3", 0.25]]'
    cited = '[1, null, "c1", "\\ud800"]'
    sql(
        "INSERT INTO answers (id, created_at, query, mode, answerable, retrieved, cited, collection) VALUES "
        f"('ans_old', '{stamp}', 'an old question', 'rag', TRUE, '{retrieved}', '{cited}', 'book_chunks_v1')"
    )
    for feedback_id, rating, sources in OLD_ROWS:
        sql(
            "INSERT INTO feedback (feedback_id, answer_id, rating, sources, answer_known, created_at) VALUES "
            f"('{feedback_id}', 'ans_old', {rating}, '{sources}', TRUE, '{stamp}')"
        )


def writable(value) -> str:
    """What a reply is made of: JSON in UTF-8 (a lone surrogate can't be encoded, deep nesting can't be dumped)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8").decode()


async def test_rows_older_versions_stored_are_read_by_every_reader_and_can_be_written_out(store, sql):
    insert_old_rows(sql)

    page = await store.list_feedback(limit=50)
    down = await store.list_feedback(rating=-1)
    summary = await store.summary()
    report = await store.analytics(since=T0 - timedelta(days=6), until=T0 + timedelta(days=1), prices=Config().prices)
    cases = await store.export_cases()

    for result in (page.to_dict(), down.to_dict(), summary, report, cases):
        writable(result)
    sources = {item["feedback_id"]: item["sources"] for item in page.items}
    assert sources == {
        "f-surrogate": [{"title": "\ufffd alone", "chunk_id": "c1", "n": 1}],
        "f-nested": [],
        "f-not-json": [],
        "f-not-a-list": [],
        "f-scalars": [{"chunk_id": "c2"}],
    }
    item = page.items[0]
    assert item["retrieved"] == [{"chunk_id": "c3", "score": 0.25}] and item["cited"] == ["c1", "\ufffd"]
    assert report["most_down_voted"][0]["answer_id"] == "ans_old" and report["most_down_voted"][0]["down"] == 3


async def test_store_queries_false_keeps_no_selection_and_shows_no_question_stored_before(make_store, sql):
    before = make_store()
    await before.record_feedback(feedback("ans_1", query="asked before", selected_text="selected before"))
    private = make_store(store_queries=False)

    await private.record_feedback(feedback("ans_2", query="a private question", selected_text="a private selection"))

    assert sql("SELECT query, selected_text FROM feedback WHERE answer_id = 'ans_2'") == [(None, None)]
    items = (await private.list_feedback()).items
    assert [(item["query"], item["selected_text"]) for item in items] == [(None, None), (None, None)]
    assert [row["query"] for row in (await private.summary())["most_down_voted"]] == [None]


@pytest.mark.parametrize(
    "name, moment",
    [
        ("until", datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))),
        ("since", datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14)))),
    ],
)
async def test_a_time_beyond_the_calendar_in_utc_is_refused_by_name(store, name, moment):
    with pytest.raises(InvalidRequest) as listed:
        await store.list_feedback(**{name: moment})
    with pytest.raises(InvalidRequest) as summed:
        await store.summary(**{name: moment})
    assert listed.value.field == summed.value.field == name


async def test_a_cursor_beyond_the_calendar_in_utc_is_refused_by_name(store):
    cursor = base64.urlsafe_b64encode(json.dumps(["9999-12-31T23:59:59-14:00", "x"]).encode()).decode().rstrip("=")

    with pytest.raises(InvalidRequest) as caught:
        await store.list_feedback(before=cursor)

    assert caught.value.field == "before"
