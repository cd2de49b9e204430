"""A small bounded pool of blocking connections, each lent to one thread at a time."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

from attrs import define

Connection = TypeVar("Connection")

# A connection idle for longer than this is checked before it is lent again:
# servers, poolers and serverless databases close idle connections.
CHECK_IDLE_AFTER = 30.0


class PoolTimeout(Exception):
    """Raised when every connection stayed busy for the whole timeout."""


class PoolClosed(Exception):
    """Raised when a connection is asked of a pool that has been closed."""


class ConnectFailed(Exception):
    """Raised by a pool's `connect` when a new connection can't be opened; its message is safe to log."""


@define
class _Slot(Generic[Connection]):
    connection: Connection
    last_used: float
    generation: int
    suspect: bool = False


class Pool(Generic[Connection]):
    """At most `size` connections, opened on demand, checked before reuse when in doubt.

    A connection that raised while lent is closed, unless `in_step` says the
    error left it in step with the server (a driver that raised half-way
    through a statement leaves replies unread, which the next statement would
    take for its own). A connection is in doubt when it raised and was kept,
    when it has been idle for a while, or when any other connection has raised
    since it was last used (the server may have restarted under all of them).
    """

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        size: int,
        timeout: float,
        check: Callable[[Connection], None] | None = None,
        close: Callable[[Connection], None] = lambda connection: connection.close(),
        in_step: Callable[[BaseException], bool] = lambda error: True,
    ):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._connect = connect
        self._check = check
        self._close = close
        self._in_step = in_step
        self._size = size
        self._timeout = timeout
        self._idle: list[_Slot[Connection]] = []
        self._opened = 0
        self._generation = 0
        self._closed = False
        self._condition = threading.Condition()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Lend one connection; if the body raises, the connection is closed, or in doubt when in step."""
        slot = self._acquire()
        try:
            yield slot.connection
        except BaseException as error:
            self._release(slot, failed=True, discard=not self._in_step(error))
            raise
        self._release(slot, failed=False)

    def close(self) -> None:
        """Close the idle connections now and the lent ones when they come back."""
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
            self._condition.notify_all()
        for slot in idle:
            self._close_quietly(slot.connection)

    @property
    def opened(self) -> int:
        return self._opened

    def _acquire(self) -> _Slot[Connection]:
        deadline = time.monotonic() + self._timeout
        with self._condition:
            while True:
                if self._closed:
                    raise PoolClosed("the connection pool is closed")
                if self._idle:
                    slot = self._idle.pop()
                    break
                if self._opened < self._size:
                    self._opened += 1
                    slot = None
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._condition.wait(remaining):
                    if not self._idle and self._opened >= self._size:
                        raise PoolTimeout(f"all {self._size} connections stayed busy")
            generation = self._generation
        try:
            if slot is None:
                return _Slot(self._connect(), time.monotonic(), generation)
            if self._in_doubt(slot, generation):
                try:
                    self._check(slot.connection)
                except Exception:
                    self._close_quietly(slot.connection)
                    return _Slot(self._connect(), time.monotonic(), generation)
            return slot
        except BaseException:
            with self._condition:
                self._opened -= 1
                self._condition.notify()
            raise

    def _in_doubt(self, slot: _Slot[Connection], generation: int) -> bool:
        if self._check is None:
            return False
        idle_for = time.monotonic() - slot.last_used
        return slot.suspect or slot.generation != generation or idle_for > CHECK_IDLE_AFTER

    def _release(self, slot: _Slot[Connection], *, failed: bool, discard: bool = False) -> None:
        with self._condition:
            if failed:
                self._generation += 1
            if self._closed or discard:
                self._opened -= 1
                closing = True
            else:
                slot.last_used = time.monotonic()
                slot.suspect = failed
                if not failed:
                    slot.generation = self._generation
                self._idle.append(slot)
                closing = False
            self._condition.notify()
        if closing:
            self._close_quietly(slot.connection)

    def _close_quietly(self, connection: Connection) -> None:
        try:
            self._close(connection)
        except Exception:
            pass
