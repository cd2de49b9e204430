"""Admission of questions that miss the cache: a few retrievals at once, the rest queued for their turn while
their expected wait is short, and told to come back (503, Retry-After) only when it is not.

A reader would rather wait two seconds than get an error: a burst of questions queues, and is answered as
fast as one process can retrieve. Past QUEUE_SECONDS of expected wait a longer queue only adds to every
reader's wait and to the memory held for readers who have given up, so the newcomer is turned away at once
with the wait it would have had, as a client (or a load balancer) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from lib.errors import Unavailable

log = logging.getLogger("bookbot")

# Retrievals at once (embedding the question, searching, scoring): enough to keep a core busy while
# embeddings and searches are in flight; beyond it a question waits for its turn.
RETRIEVAL_SLOTS = 64
_FIRST_GUESS = 0.05  # seconds a retrieval holds its slot, before any was measured
_SMOOTHING = 0.1  # weight of the latest hold time in the running estimate
_LEAST_WAIT = 0.1  # seconds a caller admitted with patience 0 may still take to get a slot that was free


class Gate:
    """At most `slots` holders at once; a newcomer queues when its expected wait is at most `patience` seconds.

    The expected wait is the queue ahead of it, times how long a holder keeps its slot (a running
    average), over the number of slots. A queued caller that still has no slot once it has waited the
    patience (the estimate was wrong: the load grew, or the event loop lags) is turned away then: its
    reader has waited as long as they were promised, and a client's own timeout is not far off.
    """

    def __init__(self, slots: int, patience: float, *, first_guess: float = _FIRST_GUESS):
        self._slots = asyncio.Semaphore(slots)
        self._size = slots
        self._patience = patience
        self._waiting = 0
        self._hold = first_guess  # seconds a holder keeps its slot, a running average from the first release on
        self.turned_away = 0

    def expected_wait(self) -> float:
        """Seconds a newcomer would wait for a slot now."""
        if not self._slots.locked():
            return 0.0
        return (self._waiting + 1) * self._hold / self._size

    @contextlib.asynccontextmanager
    async def held(self):
        wait = self.expected_wait()
        if wait > self._patience:
            self._turn_away(wait)
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), max(self._patience, _LEAST_WAIT))
        except TimeoutError:
            self._turn_away(self.expected_wait())
        finally:
            self._waiting -= 1
        started = time.monotonic()
        try:
            yield
        finally:
            self._hold += _SMOOTHING * (time.monotonic() - started - self._hold)
            self._slots.release()

    def _turn_away(self, wait: float):
        self.turned_away += 1
        if self.turned_away & (self.turned_away - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: an overload can't flood the log
            log.warning("busy: %d questions turned away so far (expected wait %.1f s)", self.turned_away, wait)
        raise Unavailable("the service is busy; try again in a moment", retry_after=max(1, math.ceil(wait)))
