"""The store's analytics on a log seeded at known times, checked against figures worked out by hand; both databases."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from lib.config import Config
from lib.pricing import Price
from lib.storage.analytics import nearest_rank, normalised, window
from tests import analytics_log as log

pytestmark = pytest.mark.anyio

WEEK = log.Week(date(2025, 3, 7))
PRICES = Config().prices


@pytest.fixture
async def seeded(store):
    await log.seed(store, WEEK)
    return store


async def week_of(store, prices=PRICES) -> dict:
    return await store.analytics(since=WEEK.since, until=WEEK.until, prices=prices)


async def test_counts_every_day_of_the_week_and_nothing_outside_it(seeded):
    report = await week_of(seeded)
    assert report["since"] == "2025-03-01T00:00:00+00:00" and report["until"] == "2025-03-08T00:00:00+00:00"
    assert [day["day"] for day in report["by_day"]] == [WEEK.day(n) for n in range(1, 8)]
    assert report["by_day"] == log.expected_by_day(WEEK)


async def test_totals_shares_percentiles_tokens_and_cost(seeded):
    report = await week_of(seeded)
    assert report["totals"] == log.EXPECTED_TOTALS
    assert report["models"] == log.EXPECTED_MODELS


async def test_a_price_for_every_model_makes_every_cost_known(seeded):
    prices = {**PRICES, log.UNPRICED: Price(prompt=1.0, completion=2.0)}
    report = await week_of(seeded, prices)
    # 0.00081 + 0.000045 for gpt-4o-mini, and (500 * 1 + 100 * 2) / 1e6 for the other
    assert report["totals"]["cost_usd"] == pytest.approx(0.000855 + 0.0007)
    assert report["by_day"][1]["cost_usd"] == pytest.approx(0.0007)


async def test_the_most_asked_and_the_most_refused_questions(seeded):
    report = await week_of(seeded)
    assert report["queries_hidden"] is False
    assert report["most_asked"] == log.EXPECTED_MOST_ASKED
    assert report["most_refused"] == log.EXPECTED_MOST_REFUSED


async def test_the_most_down_voted_answers_with_comments_and_cited_sections(seeded):
    report = await week_of(seeded)
    assert report["most_down_voted"] == log.expected_most_down_voted(WEEK)


async def test_one_day_and_a_window_that_reaches_the_row_before_the_week(seeded):
    since, until = window(WEEK.last, 1)
    last_day = await seeded.analytics(since=since, until=until, prices=PRICES)
    assert [day["day"] for day in last_day["by_day"]] == [WEEK.day(7)]
    assert last_day["totals"]["questions"] == 1 and last_day["most_asked"] == [{"query": log.DEPLOY, "count": 1, "refused": 0}]
    assert [answer["answer_id"] for answer in last_day["most_down_voted"]] == ["a7"]
    wider = await seeded.analytics(since=WEEK.since - timedelta(days=1), until=WEEK.until, prices=PRICES)
    assert wider["totals"]["questions"] == 9 and wider["by_day"][0]["questions"] == 1
    assert wider["totals"]["down"] == 6 and {"query": log.OLD, "count": 1, "refused": 0} in wider["most_asked"]


async def test_store_queries_false_hides_every_question_even_those_logged_before(seeded, make_store):
    private = make_store(store_queries=False)
    report = await private.analytics(since=WEEK.since, until=WEEK.until, prices=PRICES)
    text = json.dumps(report)
    assert report["queries_hidden"] is True
    assert not [question for question in log.QUESTIONS if question in text]
    assert [row["count"] for row in report["most_asked"]] == [3, 2, 1, 1, 1]
    assert {row["query"] for row in report["most_asked"] + report["most_refused"] + report["most_down_voted"]} == {None}
    assert report["totals"] == log.EXPECTED_TOTALS  # the counts are all still there
    assert report["most_down_voted"][0]["comments"][0]["comment"] == log.WRONG_COMMENT


async def test_an_empty_log_gives_zeros_and_no_rows(store):
    report = await week_of(store)
    assert report["by_day"] == [log.quiet_day(WEEK.day(n)) for n in range(1, 8)]
    assert report["totals"]["questions"] == 0 and report["totals"]["shares"]["answered"] is None
    assert report["models"] == [] and report["most_asked"] == [] and report["most_down_voted"] == []


@pytest.mark.parametrize(
    "values, p50, p95",
    [([], None, None), ([7.0], 7.0, 7.0), ([10, 20, 30, 40], 20, 40), (list(range(1, 21)), 10, 19), (list(range(1, 101)), 50, 95)],
)
def test_percentiles_are_nearest_rank(values, p50, p95):
    assert (nearest_rank(values, 50), nearest_rank(values, 95)) == (p50, p95)


def test_questions_differing_by_case_and_whitespace_are_one():
    assert normalised("  How do\tROS 2\n nodes TALK? ") == normalised("how do ros 2 nodes talk?") == "how do ros 2 nodes talk?"


def test_a_window_at_the_ends_of_the_calendar_is_cut_short_not_overflowed():
    since, until = window(date.max, 30)
    assert until.year == 9999 and (until - since).days == 29
    since, until = window(date.min, 30)
    assert since.year == 1 and until.date() == date(1, 1, 2)
