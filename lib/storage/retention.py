"""RETENTION_DAYS: the answer log's rows older than that are deleted at start-up, then every few hours.

Only the answer log is pruned. Feedback is kept: it is what readers chose to
send, few rows, and the evaluation cases come from it (python -m
lib.export_cases); each rating carries its own snapshot of the question, the answer
and its sources, so it stays readable once its answer is gone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

log = logging.getLogger("bookbot")

PRUNE_EVERY = 6 * 3600.0  # seconds between two prunes
RETRY_AFTER_FAILURE = 300.0  # seconds, when the database was down


async def prune_once(store, days: int, now: datetime | None = None) -> int:
    """Delete the answers older than `days` days; log and return how many went."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    removed = await store.prune_answers(cutoff)
    log.info("retention: pruned %d answers older than %d days (before %s)", removed, days, cutoff.isoformat())
    return removed


async def prune_forever(
    store,
    days: int,
    every: float = PRUNE_EVERY,
    retry_after: float = RETRY_AFTER_FAILURE,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> None:
    """Prune now, then every `every` seconds, for as long as the task lives; a failure is logged and retried."""
    while True:
        try:
            await prune_once(store, days, clock())
            pause = every
        except Exception as error:  # the database may be down now and up later
            log.warning("retention: could not prune the answer log: %s", error)
            pause = min(every, retry_after)
        if asyncio.current_task().cancelling():
            # Python 3.11's asyncio.wait_for (under the store's calls) returns a result that races a cancel
            # and drops the cancel: stop here, or the task would sleep for hours while the pool closes.
            raise asyncio.CancelledError
        await asyncio.sleep(pause)
