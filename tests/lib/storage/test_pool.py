"""The pool: bounded, one thread per connection, connections in doubt checked and replaced."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lib.storage import pool as pool_module
from lib.storage.pool import Pool, PoolClosed, PoolTimeout


class Connection:
    """A stand-in connection that remembers whether it is open and whether it still works."""

    opened = 0

    def __init__(self):
        Connection.opened += 1
        self.number = Connection.opened
        self.closed = False
        self.works = True

    def close(self):
        self.closed = True


def check(connection: Connection) -> None:
    if not connection.works:
        raise ConnectionError("gone")


def test_a_connection_is_never_lent_to_two_threads_at_once():
    pool = Pool(Connection, size=3, timeout=5, check=check)
    in_use: set[int] = set()
    lock = threading.Lock()
    clashes = []

    def borrow(_):
        with pool.connection() as connection:
            with lock:
                if id(connection) in in_use:
                    clashes.append(connection)
                in_use.add(id(connection))
            time.sleep(0.001)
            with lock:
                in_use.discard(id(connection))

    with ThreadPoolExecutor(max_workers=12) as threads:
        list(threads.map(borrow, range(300)))

    assert clashes == []
    assert pool.opened <= 3


def test_when_every_connection_stays_busy_the_wait_ends_with_pool_timeout():
    pool = Pool(Connection, size=1, timeout=0.1)

    with pool.connection():
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            with pool.connection():
                pass

    assert 0.09 <= time.monotonic() - started < 1.0


def test_a_connection_is_reused_while_it_works():
    pool = Pool(Connection, size=2, timeout=1, check=check)

    with pool.connection() as first:
        pass
    with pool.connection() as second:
        pass

    assert second is first


def test_a_connection_that_raised_is_checked_and_replaced_when_broken():
    pool = Pool(Connection, size=1, timeout=1, check=check)

    with pytest.raises(ConnectionError):
        with pool.connection() as broken:
            broken.works = False
            raise ConnectionError("the server went away")
    with pool.connection() as replacement:
        pass

    assert replacement is not broken
    assert broken.closed


def test_a_connection_that_raised_but_still_works_is_kept():
    pool = Pool(Connection, size=1, timeout=1, check=check)

    with pytest.raises(ValueError):
        with pool.connection() as first:
            raise ValueError("a bad query, not a bad connection")
    with pool.connection() as second:
        pass

    assert second is first


def test_after_one_connection_fails_the_idle_ones_are_checked_too():
    pool = Pool(Connection, size=2, timeout=1, check=check)
    with pool.connection() as a, pool.connection() as b:
        pass
    a.works = b.works = False  # a restart broke both; only one tells

    with pytest.raises(ConnectionError):
        with pool.connection():
            raise ConnectionError("the server went away")
    with pool.connection() as first, pool.connection() as second:
        pass

    assert {first, second}.isdisjoint({a, b})


def test_a_long_idle_connection_is_checked(monkeypatch):
    pool = Pool(Connection, size=1, timeout=1, check=check)
    with pool.connection() as idle:
        pass
    idle.works = False
    monkeypatch.setattr(pool_module, "CHECK_IDLE_AFTER", -1.0)

    with pool.connection() as fresh:
        pass

    assert fresh is not idle


def test_a_failed_connect_frees_its_place():
    attempts = []

    def connect():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionRefusedError("down")
        return Connection()

    pool = Pool(connect, size=1, timeout=0.1)
    with pytest.raises(ConnectionRefusedError):
        with pool.connection():
            pass
    with pool.connection() as connection:
        pass

    assert connection.closed is False


def test_close_closes_idle_connections_now_and_lent_ones_on_return():
    pool = Pool(Connection, size=2, timeout=1)

    with pool.connection() as lent:
        with pool.connection() as idle:
            pass
        pool.close()
        assert idle.closed and not lent.closed
    assert lent.closed
    with pytest.raises(PoolClosed):
        with pool.connection():
            pass


def test_a_connection_that_raised_out_of_step_is_closed_and_never_lent_again():
    pool = Pool(Connection, size=1, timeout=5, check=check, in_step=lambda error: not isinstance(error, OverflowError))
    with pytest.raises(OverflowError):
        with pool.connection() as broken:
            raise OverflowError("half-way through a statement")

    with pool.connection() as next_one:
        pass

    assert broken.closed and next_one is not broken and pool.opened == 1


def test_a_connection_that_raised_in_step_is_kept_and_checked_before_it_is_lent_again():
    pool = Pool(Connection, size=1, timeout=5, check=check, in_step=lambda error: isinstance(error, LookupError))
    with pytest.raises(LookupError):
        with pool.connection() as kept:
            raise LookupError("the server said no")

    with pool.connection() as next_one:
        pass

    assert next_one is kept and not kept.closed
