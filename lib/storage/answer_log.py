"""The answer log: a bounded queue that one background thread writes, off the request path."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Sequence

from lib.storage.records import AnswerRecord

log = logging.getLogger(__name__)

CAPACITY = 1000
BATCH_SIZE = 100
_POLL = 0.5
LINGER = 0.05  # seconds a batch waits for more answers: under load, fewer and larger writes
_WAKE = object()  # put by close() so the writer needn't wait for its next poll


def _worth_logging(count: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th … occurrence, so an outage can't flood the log."""
    return count & (count - 1) == 0


class AnswerLog:
    """Take answers at once, write them in batches; a failure is counted and logged, never raised."""

    def __init__(
        self,
        write: Callable[[Sequence[AnswerRecord]], None],
        *,
        capacity: int = CAPACITY,
        batch_size: int = BATCH_SIZE,
        describe_error: Callable[[BaseException], str] = lambda error: type(error).__name__,
    ):
        self._write = write
        self._describe_error = describe_error
        self._batch_size = batch_size
        self._queue: queue.Queue[AnswerRecord] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._abandoned = threading.Event()
        self._logged = 0
        self._failed = 0
        self._failures = 0
        self._dropped = 0
        self._drops = 0

    def put(self, record: AnswerRecord) -> None:
        """Queue `record` for writing; when the queue is full or closed, drop it and count it."""
        try:
            if self._closing.is_set():
                raise queue.Full
            self._start()
            self._queue.put_nowait(record)
        except queue.Full:
            self._count_dropped(1, "the answer log is full or closed")
        except Exception:  # never let logging an answer break the answer
            log.exception("answer log: could not queue an answer")
            self._count_dropped(1, "it could not be queued")

    def stats(self) -> dict:
        with self._lock:
            return {
                "answers_logged": self._logged,
                "answer_log_failures": self._failed,
                "answers_dropped": self._dropped,
                "answers_pending": self._queue.qsize(),
            }

    def close(self, timeout: float) -> None:
        """Write what is queued for at most `timeout` seconds; count the rest as dropped."""
        self._closing.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                pass  # a full queue wakes the writer anyway
            thread.join(timeout)
            if thread.is_alive():
                self._abandoned.set()
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            left += item is not _WAKE
        if left:
            self._count_dropped(left, "the store closed before they were written")

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="answer-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not (self._closing.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=_POLL)]
            except queue.Empty:
                continue
            deadline = time.monotonic() + LINGER
            while len(batch) < self._batch_size and batch[-1] is not _WAKE:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            batch = [record for record in batch if record is not _WAKE]
            if not batch:
                continue
            if self._abandoned.is_set():
                self._count_dropped(len(batch), "the store closed before they were written")
                continue
            self._write_batch(batch)

    def _write_batch(self, batch: list[AnswerRecord]) -> None:
        started = time.monotonic()
        try:
            self._write(batch)
        except Exception as error:
            with self._lock:
                self._failed += len(batch)
                self._failures += 1
                failures = self._failures
            if _worth_logging(failures):
                log.warning(
                    "answer log: could not write %d answers after %.0f ms (%s); %d failed writes so far",
                    len(batch),
                    (time.monotonic() - started) * 1000,
                    self._describe_error(error),
                    failures,
                )
            return
        with self._lock:
            self._logged += len(batch)

    def _count_dropped(self, count: int, why: str) -> None:
        with self._lock:
            self._dropped += count
            self._drops += 1
            drops, dropped = self._drops, self._dropped
        if _worth_logging(drops):
            log.warning("answer log: dropped %d answers because %s; %d dropped so far", count, why, dropped)
