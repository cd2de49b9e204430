"""Hosts: each puts the same handlers behind one kind of host (Falcon ASGI, AWS Lambda, ...).

A host only translates: what it receives into a `messages.Received`, the
`messages.Reply` of `serve.serve` back into its own terms. The pool it lends
to every request is a `Pool`; a server that shuts down gracefully says so to a
`Draining`.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any, Awaitable, Callable, Iterator


class Pool:
    """Opens the client pool once per process, lends it to every request, closes it at shutdown.

    Given clients, it lends them as they are and leaves closing them to whoever made them.
    """

    def __init__(self, opener: Callable[[], Awaitable[Any]] | None = None, clients: Any = None):
        self._opener = opener
        self.clients = clients

    async def open(self) -> Any:
        if self.clients is None:
            self.clients = await self._opener()
        return self.clients

    async def close(self) -> None:
        if self._opener is not None and self.clients is not None:
            clients, self.clients = self.clients, None
            await clients.aclose()


# Where the Falcon host keeps its Draining in the ASGI lifespan state, for the server's protocol to find.
DRAINING_STATE = "bookbot.draining"
# What a request or a stream still running at shutdown is told: the next one will find a server that runs.
SHUTTING_DOWN = "the server is restarting; ask again in a moment"
_DRAINED = "drained: the shutdown grace is nearly over"
_MARGIN_SECONDS = 0.5  # before the grace ends: time to write a last answer


class Draining:
    """The server's notice that it is shutting down, so that what still runs when its grace ends is not just cut.

    When SHUTDOWN_GRACE_SECONDS are nearly over (the `deadline`), a request
    still running is cancelled here and answers 503 instead; a host that
    streams ends a stream still going then with an `error` event. Either way
    the reader is told, and the server has nothing left to cancel.
    """

    def __init__(self):
        self.deadline: float | None = None  # the event loop's time when the grace is nearly over
        self._running: set[asyncio.Task] = set()
        self._cancelled: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()

    def begin(self, grace_seconds: float | None) -> None:
        """The server stops taking requests now and waits `grace_seconds` for those in flight (None: without end)."""
        if self.deadline is not None or grace_seconds is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, grace_seconds - min(_MARGIN_SECONDS, grace_seconds / 2))
        self.deadline = loop.time() + delay
        loop.call_later(delay, self._cancel_running)

    def over(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        """Within this block, the current task is cancelled at the deadline."""
        task = asyncio.current_task()
        self._running.add(task)
        try:
            yield
        finally:
            self._running.discard(task)

    def drained(self, error: BaseException) -> bool:
        """Whether `error` is the deadline's cancellation of the current task; if so, the task runs on."""
        task = asyncio.current_task()
        if isinstance(error, asyncio.CancelledError) and task in self._cancelled:
            self._cancelled.discard(task)
            task.uncancel()
            return True
        return False

    def _cancel_running(self) -> None:
        for task in list(self._running):
            self._cancelled.add(task)
            task.cancel(_DRAINED)
