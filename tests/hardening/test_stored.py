"""What is stored must never break a reader: over real HTTP, on SQLite and on a real PostgreSQL.

A snapshot that no reader could write out again (a lone surrogate deep in the
sources, nesting deeper than the parser's recursion) is refused when it is
sent; rows already stored that way, by an older version, are read anyway; a
statement that breaks half-way leaves no connection out of step; times at the
ends of the calendar are refused by name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from datetime import datetime, timezone

import httpx
import pytest

from tests.hardening.checks import assert_error
from tests.hardening.conftest import running
from tests.pg import admin_connection, fresh_database

ADMIN = "admin-stored-key-0123"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
NOW = datetime.now(timezone.utc).isoformat(sep=" ")
OLD_ROWS = {
    "old-surrogate": '[{"title": "\\ud800", "chunk_id": "c1"}]',  # as json.dumps wrote it: ASCII, the escape kept
    "old-nested-970": "[" * 970 + "]" * 970,
    "old-nested-5000": "[{\"a\": " * 5000 + "1" + "}]" * 5000,
    "old-not-json": "{nope",
}
READS = [
    "/v1/feedback",
    "/v1/feedback?rating=-1",
    "/v1/feedback?view=summary",
    "/v1/admin/analytics?period=week",
    "/v1/admin/analytics?period=month",
    "/v1/admin/analytics?period=day",
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(request, tmp_path_factory, sparse_index):
    """The service on one database, with rows written straight into it as an older version could have."""
    folder = tmp_path_factory.mktemp(f"stored-{request.param}")
    with contextlib.ExitStack() as stack:
        env = {"ADMIN_API_KEY": ADMIN}
        if request.param == "postgres":
            env["DATABASE_URL"] = stack.enter_context(fresh_database(request.getfixturevalue("pg_server_url")))
        started = stack.enter_context(running(folder, env, sparse_index))
        assert httpx.post(started.url + "/v1/feedback", json={"answer_id": "ans_first", "rating": 1}).status_code == 201
        started.sql = _sql(env.get("DATABASE_URL"), folder / "data" / "feedback.sqlite3")
        for feedback_id, sources in OLD_ROWS.items():
            started.sql(
                "INSERT INTO feedback (feedback_id, answer_id, rating, sources, answer_known, created_at) "
                f"VALUES ('{feedback_id}', 'ans_old', -1, '{sources}', FALSE, '{NOW}')"
            )
        yield started


def _sql(database_url: str | None, sqlite_path):
    def run(statement: str) -> list[tuple]:
        if database_url is None:
            with contextlib.closing(sqlite3.connect(sqlite_path)) as connection, connection:
                return connection.execute(statement).fetchall()
        connection = admin_connection(database_url)
        try:
            return [tuple(row) for row in connection.run(statement) or ()]
        finally:
            connection.close()

    return run


@pytest.fixture(scope="module")
def http(service):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def nested(depth: int) -> str:
    """Arrays `depth` deep, as JSON text: too deep for json.dumps in a test, not for a hostile client."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "sources",
    [
        '[{"title": "\\ud800"}]',
        '[{"title": "fine"}, {"section": "also fine", "snippet": "a\\udfffb"}]',
        '[{"nested": {"title": "\\ud800"}}]',
        '[{"deep": ' + nested(969) + "}]",
        '[{"deep": ' + nested(974) + "}]",
        '[{"deep": ' + nested(20) + "}]",
    ],
    ids=["a lone surrogate", "one in the second source", "one nested", "970 deep", "975 deep", "20 deep"],
)
def test_a_snapshot_no_reader_could_write_out_is_refused_when_sent(http, sources):
    body = '{"answer_id": "ans_poison", "rating": -1, "sources": ' + sources + "}"
    answered = http.post("/v1/feedback", content=body.encode(), headers={"Content-Type": "application/json"})
    error = assert_error(answered, 400, "invalid_json" if "[" * 40 in sources else "invalid_request")["error"]
    # Deeper than any request needs, the body itself is refused before it is parsed; else the sources are, by name.
    assert error.get("field") == "sources" or "deep" in error["message"]


@pytest.mark.parametrize("path", READS)
def test_rows_an_older_version_stored_are_read_by_every_admin_view(http, path):
    answered = http.get(path, headers=AS_ADMIN)
    assert answered.status_code == 200, answered.text[:500]
    answered.json()


def test_the_old_rows_are_shown_with_what_can_be_read_of_them(http):
    items = {item["feedback_id"]: item["sources"] for item in http.get("/v1/feedback", headers=AS_ADMIN).json()["items"]}
    assert items["old-surrogate"] == [{"title": "\ufffd", "chunk_id": "c1"}]
    assert items["old-nested-970"] == items["old-nested-5000"] == items["old-not-json"] == []


def cursor(created_at: str, feedback_id: str = "x") -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, feedback_id]).encode()).decode().rstrip("=")


def test_a_cursor_beyond_the_calendar_is_refused_and_the_next_ratings_are_each_stored_once(http, service):
    refused = http.get("/v1/feedback", params={"before": cursor("9999-12-31T23:59:59-14:00")}, headers=AS_ADMIN)
    assert_error(refused, 400, "invalid_request", "before")
    stored = [http.post("/v1/feedback", json={"answer_id": f"ans_after_{n}", "rating": 1}) for n in range(10)]
    assert [answer.status_code for answer in stored] == [201] * 10
    ids = sorted(answer.json()["id"] for answer in stored)
    rows = service.sql("SELECT feedback_id FROM feedback WHERE answer_id LIKE 'ans_after_%' ORDER BY feedback_id")
    assert [row[0] for row in rows] == ids
    listed = http.get("/v1/feedback", params={"limit": 200}, headers=AS_ADMIN).json()["items"]
    assert sorted(item["feedback_id"] for item in listed if item["answer_id"].startswith("ans_after_")) == ids


@pytest.mark.parametrize(
    "params, field",
    [
        ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
        ({"view": "summary", "since": "0001-01-01T00:00:00+14:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+14:00", "rating": "-1"}, "since"),
        ({"view": "summary", "until": "9999-12-31T23:59:59.999999-00:01"}, "until"),
    ],
)
def test_a_time_at_the_edge_of_the_calendar_is_refused_by_name(http, params, field):
    assert_error(http.get("/v1/feedback", params=params, headers=AS_ADMIN), 400, "invalid_request", field)


def test_the_far_ends_of_the_calendar_in_utc_are_taken(http):
    params = {"since": "0001-01-01T00:00:00+00:00", "until": "9999-12-31T23:59:59+00:00"}
    assert http.get("/v1/feedback", params=params, headers=AS_ADMIN).status_code == 200
    assert http.get("/v1/admin/analytics", params={"end": "9999-12-31"}, headers=AS_ADMIN).status_code == 200
    assert http.get("/v1/admin/analytics", params={"end": "0001-01-01", "period": "month"}, headers=AS_ADMIN).status_code == 200


def test_nothing_here_was_an_unhandled_error(http, service):
    log = service.log()
    assert '"status": 500' not in log and "unhandled error" not in log
