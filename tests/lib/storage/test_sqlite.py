"""SQLite, the embedded default: where the file goes, WAL mode, which errors mean unavailable."""

from __future__ import annotations

import sqlite3

import pytest

from lib.config import Config
from lib.errors import Unavailable
from lib.storage import open_store
from lib.storage.sqlite import is_unavailable, path_from_url, timestamp
from tests.lib.storage.conftest import T0, feedback

pytestmark = pytest.mark.anyio


async def test_without_database_url_the_file_goes_under_data_dir_in_wal_mode(tmp_path):
    folder = tmp_path / "nested" / "data"
    store = open_store(Config(data_dir=folder))

    await store.migrate()
    await store.close()

    with sqlite3.connect(folder / "feedback.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_sqlite_url_names_the_file(tmp_path):
    path = tmp_path / "elsewhere" / "votes.db"
    store = open_store(Config(database_url=f"sqlite:///{path}", data_dir=tmp_path / "unused"))

    await store.record_feedback(feedback())
    await store.close()

    assert path.exists()
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(
    "url, path",
    [
        ("sqlite:///data/feedback.db", "data/feedback.db"),
        ("sqlite:////var/lib/bot/feedback.db", "/var/lib/bot/feedback.db"),
        ("sqlite:///", ":memory:"),
    ],
)
def test_path_from_url(url, path):
    assert path_from_url(url) == path


async def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = open_store(Config(data_dir=blocker / "data"))

    with pytest.raises(Unavailable):
        await store.record_feedback(feedback())
    await store.close()


def test_a_locked_file_is_unavailable_and_a_wrong_query_is_not(tmp_path):
    connection = sqlite3.connect(tmp_path / "x.db")
    with pytest.raises(sqlite3.OperationalError) as wrong:
        connection.execute("SELECT * FROM nowhere")
    connection.close()
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = sqlite3.SQLITE_BUSY

    assert is_unavailable(locked)
    assert not is_unavailable(wrong.value)


def test_timestamps_are_fixed_width_utc_text_that_sorts_like_time():
    from datetime import timedelta, timezone

    east = timezone(timedelta(hours=5))

    assert timestamp(T0) == "2025-03-01 09:30:00.000000+00:00"
    assert timestamp(T0.astimezone(east)) == timestamp(T0)
    assert timestamp(T0) < timestamp(T0 + timedelta(microseconds=1))


async def test_a_text_column_holding_bytes_that_are_no_utf8_reads_as_replacement_characters(tmp_path):
    """SQLite stores whatever bytes another writer put in a TEXT column; the reader still gets text."""
    store = open_store(Config(data_dir=tmp_path))
    await store.migrate()
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as connection:
        connection.execute(
            "INSERT INTO feedback (feedback_id, answer_id, rating, comment, answer_known, created_at) "
            f"VALUES ('f-bytes', 'a', -1, CAST(X'EDA080' AS TEXT), FALSE, '{T0.isoformat(sep=' ')}')"
        )

    (item,) = (await store.list_feedback()).items
    await store.close()

    assert item["comment"] == "\ufffd\ufffd\ufffd"
