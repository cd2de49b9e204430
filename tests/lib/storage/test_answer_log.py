"""The answer log: never raises, never blocks, counts what it writes, fails and drops."""

from __future__ import annotations

import logging
import threading
import time

from lib.storage.answer_log import AnswerLog
from tests.lib.storage.conftest import answer


def settle(log: AnswerLog, count: int, within: float = 5.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        stats = log.stats()
        done = stats["answers_logged"] + stats["answer_log_failures"] + stats["answers_dropped"]
        if done >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.01)


def test_answers_are_written_in_batches_by_one_thread():
    batches, threads = [], set()

    def write(batch):
        batches.append(len(batch))
        threads.add(threading.current_thread().name)

    log = AnswerLog(write, batch_size=10)
    for n in range(35):
        log.put(answer(f"ans_{n}"))
    stats = settle(log, 35)
    log.close(1.0)

    assert stats["answers_logged"] == 35
    assert sum(batches) == 35
    assert max(batches) <= 10
    assert threads == {"answer-log"}


def test_a_failed_write_is_counted_and_logged_without_raising(caplog):
    def write(batch):
        raise ConnectionRefusedError("down")

    log = AnswerLog(write)
    with caplog.at_level(logging.WARNING):
        log.put(answer())
        stats = settle(log, 1)
    log.close(1.0)

    assert stats["answer_log_failures"] == 1
    assert "could not write 1 answers" in caplog.text


def test_a_full_queue_drops_without_blocking():
    release = threading.Event()
    log = AnswerLog(lambda batch: release.wait(30), capacity=3, batch_size=1)

    for n in range(20):
        log.put(answer(f"ans_{n}"))
    dropped_while_stuck = log.stats()["answers_dropped"]  # a put that waited for room would have dropped none
    release.set()
    stats = settle(log, 20)
    log.close(1.0)

    assert dropped_while_stuck >= 16
    assert stats["answers_logged"] + stats["answers_dropped"] == 20


def test_repeated_failures_are_logged_sparingly(caplog):
    log = AnswerLog(lambda batch: 1 / 0, batch_size=1)

    with caplog.at_level(logging.WARNING):
        for n in range(100):
            log.put(answer(f"ans_{n}"))
        settle(log, 100)
    log.close(1.0)

    assert 1 <= len(caplog.records) <= 8


def test_close_is_bounded_when_the_writer_hangs():
    hang = threading.Event()
    log = AnswerLog(lambda batch: hang.wait(10), batch_size=1)
    for n in range(5):
        log.put(answer(f"ans_{n}"))
    time.sleep(0.05)

    started = time.monotonic()
    log.close(0.2)
    elapsed = time.monotonic() - started
    hang.set()

    assert elapsed < 5.0  # the writer hangs for 10 s: close gave up on it
    assert log.stats()["answers_dropped"] >= 3


def test_put_after_close_drops_and_counts():
    log = AnswerLog(lambda batch: None)
    log.close(0.1)

    log.put(answer())

    assert log.stats()["answers_dropped"] == 1
