"""Admission of cache misses: at most so many retrievals at once, and a quick 503 rather than a long queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from lib.errors import Unavailable

log = logging.getLogger("bookbot")

# Retrievals at once (embedding the question, searching, scoring): enough to keep a core busy
# while embeddings and searches are in flight; beyond it a miss waits for its turn.
RETRIEVAL_SLOTS = 64
# How long a miss may wait for its turn before it is told to come back (503, Retry-After).
RETRIEVAL_PATIENCE = 2.0


class Gate:
    """At most `slots` holders at once; a caller who would wait longer than `patience` is turned away.

    When misses arrive faster than one process can retrieve them, a longer queue
    only adds to every reader's wait and to the memory held for readers who have
    already given up; a quick 503 with Retry-After lets a client, or a load
    balancer, try again later or elsewhere.
    """

    def __init__(self, slots: int, patience: float):
        self._slots = asyncio.Semaphore(slots)
        self._patience = patience
        self.turned_away = 0

    @contextlib.asynccontextmanager
    async def held(self):
        try:
            await asyncio.wait_for(self._slots.acquire(), self._patience)
        except TimeoutError:
            self.turned_away += 1
            if self.turned_away & (self.turned_away - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: an overload can't flood the log
                log.warning("busy: %d misses turned away so far", self.turned_away)
            raise Unavailable("the service is busy; try again in a moment", retry_after=1) from None
        try:
            yield
        finally:
            self._slots.release()
