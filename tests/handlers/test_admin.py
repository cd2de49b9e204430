"""handlers/admin.py called directly, over a log seeded at known times, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import attrs
import pytest

from handlers import admin
from lib.access import KeyedRequest
from lib.config import Config
from lib.errors import Forbidden, InvalidRequest, Unauthorized
from lib.hosts.messages import Incoming
from tests import analytics_log as log
from tests.parts import pool

pytestmark = pytest.mark.anyio

KEY = "s3cret-admin"
WEEK = log.Week(date(2025, 3, 7))


@pytest.fixture(params=["sqlite", "postgres"])
def config(request, tmp_path) -> Config:
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return Config(data_dir=tmp_path, database_url=url, index_on_start=False, admin_api_key=KEY)


async def analytics(clients, token=KEY, **params):
    return await admin.handle(KeyedRequest(token=token, params=params), clients)


async def test_the_week_of_a_seeded_log(config):
    async with pool(config) as clients:
        await log.seed(clients.store, WEEK)
        reply = await analytics(clients, period="week", end=WEEK.last.isoformat())
    body = reply.body
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    assert body["period"] == "week" and body["since"] == WEEK.since.isoformat() and body["until"] == WEEK.until.isoformat()
    assert body["by_day"] == log.expected_by_day(WEEK) and body["totals"] == log.EXPECTED_TOTALS
    assert body["models"] == log.EXPECTED_MODELS
    assert body["most_asked"] == log.EXPECTED_MOST_ASKED and body["most_refused"] == log.EXPECTED_MOST_REFUSED
    assert body["most_down_voted"] == log.expected_most_down_voted(WEEK)
    json.dumps(body)  # what the host will write


async def test_a_day_is_the_last_day_alone_and_a_month_thirty_days(config):
    async with pool(config) as clients:
        await log.seed(clients.store, WEEK)
        day = (await analytics(clients, period="day", end=WEEK.last.isoformat())).body
        month = (await analytics(clients, period="month", end=WEEK.last.isoformat())).body
    assert [row["day"] for row in day["by_day"]] == [WEEK.day(7)] and day["totals"]["questions"] == 1
    assert day["since"] == WEEK.at(7, 0).isoformat()
    assert len(month["by_day"]) == 30 and month["by_day"][-1]["day"] == WEEK.day(7)
    # The answer a microsecond before the week is in the month; the one at the first instant after it is not.
    assert month["totals"]["questions"] == 9 and month["by_day"][-8]["questions"] == 1


async def test_the_week_ends_today_unless_told_otherwise(config):
    week = log.Week(datetime.now(timezone.utc).date())
    async with pool(config) as clients:
        await log.seed(clients.store, week)
        body = (await analytics(clients)).body
    assert body["period"] == "week" and body["by_day"][-1]["day"] == week.day(7)
    assert body["totals"]["questions"] == 8


async def test_store_queries_false_hides_the_questions_but_not_the_counts(config):
    async with pool(config) as clients:
        await log.seed(clients.store, WEEK)
    async with pool(attrs.evolve(config, store_queries=False)) as clients:
        body = (await analytics(clients, end=WEEK.last.isoformat())).body
    text = json.dumps(body)
    assert body["queries_hidden"] is True and not [question for question in log.QUESTIONS if question in text]
    assert body["totals"] == log.EXPECTED_TOTALS
    assert [row["count"] for row in body["most_refused"]] == [2, 1]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"period": "year"}, "period"),
        ({"period": ""}, "period"),
        ({"end": "yesterday"}, "end"),
        ({"end": "2025-02-30"}, "end"),
        ({"end": "2025-03-07T00:00:00"}, "end"),
        ({"limit": "5"}, "limit"),
    ],
)
async def test_a_bad_parameter_is_a_400_that_names_it(tmp_path, params, field):
    async with pool(Config(data_dir=tmp_path, index_on_start=False, admin_api_key=KEY)) as clients:
        with pytest.raises(InvalidRequest) as caught:
            await analytics(clients, **params)
    assert caught.value.field == field and caught.value.STATUS == 400


async def test_the_key_is_checked_first_in_constant_time_and_must_be_the_admin_key(tmp_path):
    async with pool(Config(data_dir=tmp_path, index_on_start=False, admin_api_key=KEY, api_keys=("reader",))) as clients:
        for token in (None, "", KEY.upper(), KEY + " ", "reader"):
            with pytest.raises(Unauthorized) as caught:
                await analytics(clients, token=token, period="year")
            assert caught.value.STATUS == 401 and caught.value.headers["WWW-Authenticate"] == "Bearer"


async def test_the_route_is_forbidden_while_admin_api_key_is_unset(tmp_path):
    async with pool(Config(data_dir=tmp_path, index_on_start=False)) as clients:
        with pytest.raises(Forbidden) as caught:
            await analytics(clients, token="anything")
    assert caught.value.STATUS == 403 and "ADMIN_API_KEY" in caught.value.message


@pytest.mark.parametrize(
    "header, token",
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("abc", None), (None, None), ("Bearer ", None)],
)
def test_parse_reads_the_bearer_token_and_keeps_the_parameters_as_text(header, token):
    headers = {"authorization": header} if header is not None else {}
    incoming = Incoming(method="GET", path="/v1/admin/analytics", request_id="r", params={"period": "day"}, headers=headers)
    assert admin.parse(incoming) == KeyedRequest(token=token, params={"period": "day"})
