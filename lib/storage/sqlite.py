"""SQLite from the standard library: the embedded default, one connection behind a lock."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from lib.storage.migrations import apply
from lib.storage.pool import ConnectFailed, Pool, PoolClosed, PoolTimeout

MEMORY = ":memory:"
_WAL_RETRY = 0.02
# Primary result codes that mean the file can't be used now, not that the SQL is wrong.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def path_from_url(url: str) -> str:
    """The file of a `sqlite:///relative/path` or `sqlite:////absolute/path` URL."""
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite URL starts with sqlite:///")
    return url[len("sqlite:///") :] or MEMORY


def timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that comparing and sorting the text compares the times."""
    return value.astimezone(timezone.utc).isoformat(sep=" ", timespec="microseconds")


def _text(value: bytes) -> str:
    """A text column as it is stored: a byte that is no UTF-8 (written by hand, or by another program) reads as
    U+FFFD rather than failing the whole query."""
    return value.decode("utf-8", "replace")


def describe_error(error: BaseException) -> str:
    if isinstance(error, ConnectFailed):
        return str(error)
    return f"{type(error).__name__}: {error}"


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the file is locked, unreadable or full, rather than a wrong query."""
    if isinstance(error, (ConnectFailed, PoolTimeout, PoolClosed)):
        return True
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _UNAVAILABLE_CODES
    return False


class _Session:
    """The connection, running parameterised statements in autocommit."""

    def __init__(self, connection: sqlite3.Connection):
        self._connection = connection

    def query(self, sql: str, **params) -> list[dict]:
        cursor = self._connection.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def execute(self, sql: str, **params) -> int:
        return self._connection.execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: list[dict]) -> None:
        self._connection.executemany(sql, rows)


class SqliteDatabase:
    """A SQLite file in WAL mode; writers in other processes wait up to the timeout."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, timeout: float):
        self._path = str(path)
        self._timeout = timeout
        # One connection: SQLite writes one transaction at a time anyway, and the
        # pool's single slot is the lock that keeps two threads off it.
        self._pool: Pool[sqlite3.Connection] = Pool(self._connect, size=1, timeout=timeout)

    def describe(self) -> str:
        return f"sqlite:///{self._path}"

    def describe_error(self, error: BaseException) -> str:
        return describe_error(error)

    def is_unavailable(self, error: BaseException) -> bool:
        return is_unavailable(error)

    def is_broken(self, error: BaseException) -> bool:
        return False  # a file has no connection to lose

    def day(self, column: str) -> str:
        """SQL for the UTC calendar day of a timestamp column, as 'YYYY-MM-DD'."""
        return f"substr({column}, 1, 10)"

    def timestamp(self, value: datetime) -> str:
        return timestamp(value)

    @contextmanager
    def session(self) -> Iterator[_Session]:
        with self._pool.connection() as connection:
            yield _Session(connection)

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        """A write transaction, holding the file's write lock from its first statement."""
        with self._pool.connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _Session(connection)
            except BaseException:
                _rollback_quietly(connection)
                raise
            connection.execute("COMMIT")

    def migrate(self) -> list[int]:
        with self.transaction() as session:
            return apply(session, self.dialect)

    def ping(self) -> None:
        with self.session() as session:
            session.query("SELECT 1")

    def close(self) -> None:
        self._pool.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            if self._path != MEMORY:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise ConnectFailed(f"can't open: {describe_error(error)}") from None
        connection.text_factory = _text
        try:
            self._use_wal(connection)
            # FULL: a feedback answered 201 is on disk even if the machine loses power.
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as error:
            connection.close()
            raise ConnectFailed(f"can't open: {describe_error(error)}") from None
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to WAL once; SQLite refuses at once, without waiting, while
        another process holds a lock, so try again until the timeout."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")  # ":memory:" stays "memory"
                return
            except sqlite3.OperationalError as error:
                if not is_unavailable(error) or time.monotonic() > deadline:
                    raise
                time.sleep(_WAL_RETRY)


def _rollback_quietly(connection: sqlite3.Connection) -> None:
    try:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the error that brought us here is the one worth raising
