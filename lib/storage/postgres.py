"""PostgreSQL over pg8000: the URL, TLS, a pool of connections, and which errors mean "down"."""

from __future__ import annotations

import logging
import socket
import ssl
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

import pg8000.native
from attrs import field, frozen

from lib.config import ConfigError
from lib.storage.migrations import ADVISORY_LOCK_KEY, apply
from lib.storage.pool import ConnectFailed, Pool, PoolClosed, PoolTimeout

log = logging.getLogger(__name__)

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_PORT = 5432
# Parameters libpq knows that change nothing here: pg8000 binds channels itself
# when the server offers SCRAM-SHA-256-PLUS, and DATABASE_TIMEOUT bounds connecting.
_QUIETLY_IGNORED = frozenset({"channel_binding", "connect_timeout"})
# SQLSTATE classes that mean the server can't serve us now, not that the query is wrong:
# 08 connection exception, 53 insufficient resources, 57 operator intervention
# (shutdown, restart, query cancelled by a timeout).
_UNAVAILABLE_CLASSES = ("08", "53", "57")
# admin_shutdown, crash_shutdown: the server ended this session and may be back already.
_SHUT_DOWN = ("57P01", "57P02")


@frozen
class ConnectInfo:
    """Where and how to connect, read from a postgres:// or postgresql:// URL."""

    user: str
    password: str | None = field(repr=False)
    host: str
    port: int
    database: str
    sslmode: str = "prefer"
    sslrootcert: str | None = None
    application_name: str | None = None
    options: str | None = None
    ignored: tuple[str, ...] = ()

    def describe(self) -> str:
        """The URL without its password, safe for logs."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}?sslmode={self.sslmode}"


def parse_url(url: str) -> ConnectInfo:
    """Read a libpq-style URL; the message of a bad one never repeats the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError("DATABASE_URL must start with postgresql:// or postgres://")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError("DATABASE_URL has a port that is not a number from 1 to 65535") from None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    sslmode = params.pop("sslmode", "prefer") or "prefer"
    if sslmode not in SSL_MODES:
        raise ConfigError(f"DATABASE_URL sslmode must be one of {', '.join(SSL_MODES)}, got {sslmode!r}")
    user = unquote(parts.username or "") or "postgres"
    return ConnectInfo(
        user=user,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "localhost",
        port=port,
        database=unquote(parts.path.lstrip("/")) or user,
        sslmode=sslmode,
        sslrootcert=params.pop("sslrootcert", None) or None,
        application_name=params.pop("application_name", None) or None,
        options=params.pop("options", None) or None,
        ignored=tuple(sorted(name for name in params if name not in _QUIETLY_IGNORED)),
    )


def ssl_context(info: ConnectInfo) -> ssl.SSLContext | bool | None:
    """What pg8000 takes as `ssl_context` for the URL's sslmode.

    `require` verifies the certificate and the host name, as `verify-full` does:
    managed databases (Neon, Supabase, RDS) serve certificates that verify, and
    an unverified TLS connection protects against nothing but eavesdropping.
    A private CA is given with `sslrootcert=/path/to/ca.pem`. `prefer` (the
    libpq default) and `allow` try TLS without verifying and fall back to plain.
    """
    if info.sslmode == "disable":
        return False
    if info.sslmode in ("allow", "prefer"):
        return None
    cafile = None if info.sslrootcert in (None, "system") else info.sslrootcert
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = info.sslmode != "verify-ca"
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def describe_error(error: BaseException) -> str:
    """A short account of a driver error with nothing from the URL's secrets or the rows."""
    if isinstance(error, ConnectFailed):
        return str(error)
    if isinstance(error, pg8000.native.DatabaseError) and error.args and isinstance(error.args[0], dict):
        fields = error.args[0]
        return f"{fields.get('C', '?')} {fields.get('M', '')}".strip()
    cause = error.__cause__
    text = f"{type(error).__name__}: {error}"
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the server can't be reached or can't serve now."""
    if isinstance(error, (ConnectFailed, PoolTimeout, PoolClosed, OSError, pg8000.native.InterfaceError)):
        return True
    if isinstance(error, pg8000.native.DatabaseError) and error.args and isinstance(error.args[0], dict):
        return str(error.args[0].get("C", "")).startswith(_UNAVAILABLE_CLASSES)
    return False


def is_broken(error: BaseException) -> bool:
    """Whether a lent connection broke under `error` (not a timeout): another may work."""
    if isinstance(error, TimeoutError):
        return False
    if isinstance(error, (OSError, pg8000.native.InterfaceError)):
        return True
    if isinstance(error, pg8000.native.DatabaseError) and error.args and isinstance(error.args[0], dict):
        code = str(error.args[0].get("C", ""))
        return code.startswith("08") or code in _SHUT_DOWN
    return False


def in_step(error: BaseException) -> bool:
    """Whether a connection that raised `error` is still in step with the server, fit to be lent again.

    Only an error the server sent is: pg8000 reads the server's reply to its
    end before raising it. Anything else may have come half-way through a
    statement (a parameter pg8000 can't encode raises after it sent Parse and
    Describe, with their replies still unread), and a session the server ended
    is no session at all.
    """
    server_sent = isinstance(error, pg8000.native.DatabaseError) and bool(error.args) and isinstance(error.args[0], dict)
    return server_sent and not is_broken(error)


class _Session:
    """One pooled connection, running parameterised statements in autocommit."""

    def __init__(self, connection: pg8000.native.Connection):
        self._connection = connection

    def query(self, sql: str, **params) -> list[dict]:
        rows = self._connection.run(sql, **params) if params else self._connection.run(sql)
        names = [column["name"] for column in self._connection.columns or ()]
        return [dict(zip(names, row)) for row in rows or ()]

    def execute(self, sql: str, **params) -> int:
        self._connection.run(sql, **params) if params else self._connection.run(sql)
        return self._connection.row_count

    def execute_many(self, sql: str, rows: list[dict]) -> None:
        """One statement for every row, each parameter an array of one column's values (see queries.BATCHES)."""
        if rows:
            self._connection.run(sql, **{name: [row[name] for row in rows] for name in rows[0]})


class PostgresDatabase:
    """A PostgreSQL database behind a small pool; every call blocks, run it off the event loop."""

    dialect = "postgres"

    def __init__(self, url: str, *, timeout: float, pool_size: int):
        self._info = parse_url(url)
        self._ssl = ssl_context(self._info)
        self._timeout = timeout
        if self._info.ignored:
            log.warning("DATABASE_URL: ignoring the parameters %s", ", ".join(self._info.ignored))
        self._pool: Pool[pg8000.native.Connection] = Pool(
            self._connect, size=pool_size, timeout=timeout, check=_select_one, in_step=in_step
        )

    def describe(self) -> str:
        return self._info.describe()

    def describe_error(self, error: BaseException) -> str:
        return describe_error(error)

    def is_unavailable(self, error: BaseException) -> bool:
        return is_unavailable(error)

    def is_broken(self, error: BaseException) -> bool:
        return is_broken(error)

    def day(self, column: str) -> str:
        """SQL for the UTC calendar day of a timestamp column, as 'YYYY-MM-DD'."""
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def timestamp(self, value: datetime) -> datetime:
        return value

    @contextmanager
    def session(self) -> Iterator[_Session]:
        with self._pool.connection() as connection:
            yield _Session(connection)

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self._pool.connection() as connection:
            connection.run("BEGIN")
            try:
                yield _Session(connection)
            except BaseException as error:
                if in_step(error):  # else the pool closes the connection, and the server rolls back
                    _rollback_quietly(connection)
                raise
            connection.run("COMMIT")

    def migrate(self) -> list[int]:
        # The transaction-scoped lock also holds through a pooler in transaction mode.
        with self.transaction() as session:
            session.query("SELECT pg_advisory_xact_lock(:key)", key=ADVISORY_LOCK_KEY)
            return apply(session, self.dialect)

    def ping(self) -> None:
        with self.session() as session:
            session.query("SELECT 1")

    def close(self) -> None:
        self._pool.close()

    def _connect(self) -> pg8000.native.Connection:
        info = self._info
        try:
            sock = socket.create_connection((info.host, info.port), self._timeout)
        except OSError as error:
            raise ConnectFailed(f"can't connect: {describe_error(error)}") from None
        # pg8000 writes a message in several pieces: without this, a large one waits for the server's
        # delayed ACK (40 ms on Linux) before its last piece goes.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        try:
            return pg8000.native.Connection(
                sock=sock,
                user=info.user,
                password=info.password,
                host=info.host,
                port=info.port,
                database=info.database,
                ssl_context=self._ssl,
                timeout=self._timeout,
                application_name=info.application_name,
                startup_params={"options": info.options} if info.options else None,
            )
        except Exception as error:
            sock.close()
            raise ConnectFailed(f"can't connect: {describe_error(error)}") from None


def _select_one(connection: pg8000.native.Connection) -> None:
    connection.run("SELECT 1")


def _rollback_quietly(connection: pg8000.native.Connection) -> None:
    try:
        connection.run("ROLLBACK")
    except Exception:
        pass  # the pool checks this connection before lending it again
