"""PostgreSQL: the URL, TLS, and an outage in the middle that the pool recovers from."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from datetime import datetime, timedelta, timezone

import certifi
import pg8000.native
import pytest

from lib.config import Config, ConfigError
from lib.errors import Unavailable
from lib.storage import open_store
from lib.storage.postgres import PostgresDatabase, parse_url, ssl_context
from lib.storage.store import SqlStore
from tests.lib.storage.conftest import answer, feedback, until_logged
from tests.pg import Cluster, PostgresMissing, admin_connection, fresh_database

NEON = (
    "postgresql://alex:AbC123dEf@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname"
    "?sslmode=require&channel_binding=require"
)
SUPABASE = (
    "postgresql://postgres.abcdefghijklmnop:pa%24%24w%40rd%3A%2F@"
    "aws-0-us-east-1.pooler.supabase.com:6543/postgres?sslmode=require"
)


def test_a_url_gives_user_password_host_port_and_database_percent_decoded():
    info = parse_url(SUPABASE)

    assert info.user == "postgres.abcdefghijklmnop"
    assert info.password == "pa$$w@rd:/"
    assert info.host == "aws-0-us-east-1.pooler.supabase.com"
    assert info.port == 6543
    assert info.database == "postgres"
    assert info.sslmode == "require"


def test_a_short_url_takes_the_libpq_defaults():
    info = parse_url("postgres://reader@db.internal")

    assert (info.user, info.password, info.host, info.port, info.database) == (
        "reader",
        None,
        "db.internal",
        5432,
        "reader",
    )
    assert info.sslmode == "prefer"


def test_the_password_never_shows_in_repr_or_description():
    info = parse_url(NEON)

    assert "AbC123dEf" not in repr(info)
    assert "AbC123dEf" not in info.describe()
    assert info.describe().startswith("postgresql://alex@ep-cool-darkness-123456")


@pytest.mark.parametrize("url", [NEON, SUPABASE])
def test_sslmode_require_verifies_the_certificate_and_the_host_name(url):
    context = ssl_context(parse_url(url))

    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_sslmode_verify_ca_verifies_the_certificate_but_not_the_host_name():
    context = ssl_context(parse_url("postgresql://u@h/d?sslmode=verify-ca"))

    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is False


def test_sslmode_verify_full_verifies_both():
    context = ssl_context(parse_url("postgresql://u@h/d?sslmode=verify-full"))

    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_sslrootcert_names_the_certificates_to_trust():
    context = ssl_context(parse_url(f"postgresql://u@h/d?sslmode=require&sslrootcert={certifi.where()}"))

    assert len(context.get_ca_certs()) > 10


@pytest.mark.parametrize("mode, expected", [("disable", False), ("allow", None), ("prefer", None)])
def test_weaker_sslmodes_map_to_pg8000s_own_choices(mode, expected):
    assert ssl_context(parse_url(f"postgresql://u@h/d?sslmode={mode}")) is expected


def test_an_unknown_sslmode_is_a_config_error_that_keeps_the_password_out():
    with pytest.raises(ConfigError) as raised:
        parse_url("postgresql://u:hunter2@h/d?sslmode=required")

    assert "sslmode" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_bad_port_is_a_config_error_that_keeps_the_password_out():
    with pytest.raises(ConfigError) as raised:
        parse_url("postgresql://u:hunter2@h:99999/d")

    assert "hunter2" not in str(raised.value)


def test_other_parameters_are_ignored_by_name_and_libpq_no_ops_quietly(caplog):
    info = parse_url("postgresql://u@h/d?connect_timeout=10&channel_binding=require&target_session_attrs=any")

    assert info.ignored == ("target_session_attrs",)
    with caplog.at_level(logging.WARNING):
        open_store(Config(database_url="postgresql://u@h/d?target_session_attrs=secret-value"))
    assert "target_session_attrs" in caplog.text
    assert "secret-value" not in caplog.text


def test_application_name_and_options_are_kept():
    info = parse_url("postgresql://u@h/d?application_name=book-bot&options=-c%20search_path%3Dbot")

    assert info.application_name == "book-bot"
    assert info.options == "-c search_path=bot"


@pytest.mark.anyio
async def test_sslmode_require_against_a_server_without_tls_is_unavailable(database_url):
    store = open_store(Config(database_url=f"{database_url}?sslmode=require", database_timeout=2.0))
    try:
        with pytest.raises(Unavailable):
            await store.record_feedback(feedback())
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_server_that_never_answers_is_unavailable_within_the_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections in the kernel, never says a word
        port = silent.getsockname()[1]
        store = open_store(Config(database_url=f"postgresql://u@127.0.0.1:{port}/d", database_timeout=0.5))
        started = time.monotonic()
        try:
            with pytest.raises(Unavailable):
                await store.record_feedback(feedback())
        finally:
            await store.close()

    assert time.monotonic() - started < 2.0


@pytest.mark.anyio
async def test_a_refused_connection_is_unavailable_with_a_safe_message(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    store = open_store(Config(database_url=f"postgresql://u:hunter2@127.0.0.1:{port}/d", database_timeout=2.0))
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(Unavailable) as raised:
            await store.record_feedback(feedback())
    finally:
        await store.close()

    assert raised.value.STATUS == 503
    assert "Retry-After" in raised.value.headers
    assert "hunter2" not in raised.value.message
    assert "hunter2" not in caplog.text
    assert f"127.0.0.1:{port}" in caplog.text


@pytest.fixture(scope="module")
def outage_cluster():
    """A cluster of its own, which these tests stop and start."""
    try:
        cluster = Cluster()
    except PostgresMissing:
        if not os.environ.get("TEST_DATABASE_URL"):
            raise
        pytest.skip("stopping a server needs a throwaway cluster, and PostgreSQL isn't installed")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def outage(outage_cluster):
    with fresh_database(outage_cluster.url) as url:
        store = open_store(Config(database_url=url, database_timeout=2.0))
        await store.migrate()
        try:
            yield outage_cluster, store
        finally:
            await store.close()
            if not outage_cluster.running:
                outage_cluster.start()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_a_database_stopped_in_the_middle_is_unavailable_then_the_retry_lands_once(outage, caplog, mode):
    cluster, store = outage
    await store.record_feedback(feedback("warm-up"))  # the pool now holds a live connection
    record = feedback("ans_1")

    cluster.stop(mode)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # the broken connection, then refused new ones
            with pytest.raises(Unavailable):
                await store.record_feedback(record)
        with pytest.raises(Unavailable):
            await store.ping()
    cluster.start()
    retried = await store.record_feedback(record)  # no restart of the store
    again = await store.record_feedback(record)
    page = await store.list_feedback()

    assert retried.created is True
    assert again.created is False
    assert [item["answer_id"] for item in page.items].count("ans_1") == 1
    assert "is unavailable" in caplog.text


@pytest.mark.anyio
async def test_log_answer_returns_at_once_while_the_database_is_stopped(outage):
    cluster, store = outage
    cluster.stop()

    for n in range(100):
        store.log_answer(answer(f"ans_{n}"))  # never raises: the failures are the writer's, counted
    stats = await until_logged(store, 100)

    assert stats["answer_log_failures"] == 100
    assert stats["answers_logged"] == 0

    cluster.start()
    store.log_answer(answer("ans_after"))
    assert (await until_logged(store, 101))["answers_logged"] == 1


@pytest.mark.anyio
async def test_the_pool_replaces_every_broken_connection_after_a_restart(outage):
    cluster, store = outage
    await asyncio.gather(*(store.record_feedback(feedback(f"warm-{n}")) for n in range(8)))

    cluster.stop()
    cluster.start()
    results = await asyncio.gather(*(store.record_feedback(feedback(f"after-{n}")) for n in range(8)))

    # Each stale connection fails once, is replaced, and the call is retried on another.
    assert all(result.created for result in results)


# A statement that raised half-way: pg8000 sends Parse and Describe, then fails to encode a parameter (a time that
# is in the year 10000 in UTC), with the server's replies still unread.
BEYOND_THE_CALENDAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))


def break_half_way(database: PostgresDatabase) -> None:
    with pytest.raises(OverflowError):
        with database.session() as session:
            session.query("SELECT CAST(:moment AS TIMESTAMPTZ) AS moment", moment=BEYOND_THE_CALENDAR)


def test_a_connection_that_raised_half_way_through_a_statement_is_closed_and_the_next_ones_get_their_own_rows(database_url):
    database = PostgresDatabase(database_url, timeout=5, pool_size=1)  # one connection: the next statement gets it
    try:
        break_half_way(database)
        answers = []
        for n in range(4):
            with database.session() as session:
                answers.append(session.query(f"SELECT {n} AS n, 'row {n}' AS text"))
    finally:
        database.close()

    assert answers == [[{"n": n, "text": f"row {n}"}] for n in range(4)]


@pytest.mark.anyio
async def test_after_a_statement_broke_half_way_each_rating_is_acknowledged_exactly_as_it_was_stored(database_url):
    database = PostgresDatabase(database_url, timeout=5, pool_size=1)
    store = SqlStore(database, timeout=5, workers=1)
    try:
        await store.migrate()
        break_half_way(database)
        results = [await store.record_feedback(feedback(f"ans_{n}")) for n in range(5)]
        again = await store.record_feedback(feedback("ans_0", feedback_id=results[0].id))
        page = await store.list_feedback()
    finally:
        await store.close()

    assert [result.created for result in results] == [True] * 5 and again.created is False
    assert sorted(item["feedback_id"] for item in page.items) == sorted(result.id for result in results)


@pytest.mark.anyio
async def test_postgresql_refuses_text_that_is_not_utf8_so_no_reader_ever_meets_it(database_url):
    store = open_store(Config(database_url=database_url))
    await store.migrate()
    await store.close()
    connection = admin_connection(database_url)
    try:
        with pytest.raises(pg8000.native.DatabaseError, match="invalid byte sequence"):
            connection.run(
                "INSERT INTO feedback (feedback_id, answer_id, rating, comment, answer_known, created_at) "
                "VALUES ('f-bytes', 'a', -1, convert_from('\\xeda080'::bytea, 'UTF8'), FALSE, now())"
            )
    finally:
        connection.close()
