"""lib/admission.py: a burst is queued while its expected wait is short; past the bound, turned away at once."""

import asyncio
import contextlib
import time

import pytest

from lib.admission import Gate
from lib.errors import Unavailable

pytestmark = pytest.mark.anyio


async def test_lets_as_many_through_as_it_has_slots_and_the_rest_wait_their_turn():
    gate, inside, most = Gate(slots=2, patience=1.0), 0, 0

    async def work():
        nonlocal inside, most
        async with gate.held():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(6)))
    assert most == 2 and gate.turned_away == 0


async def test_queues_a_burst_many_times_its_slots_when_the_wait_is_short():
    gate = Gate(slots=4, patience=2.0)

    async def work():
        async with gate.held():
            await asyncio.sleep(0.005)

    await asyncio.gather(*(work() for _ in range(300)))
    assert gate.turned_away == 0


@contextlib.asynccontextmanager
async def slot_taken(gate: Gate):
    """The gate's one slot held by another caller until the block ends."""
    release = asyncio.Event()

    async def hold():
        async with gate.held():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        await holder


async def ask_timed(gate: Gate) -> tuple[Unavailable, float]:
    """The refusal a newcomer gets, and the seconds it took to come."""
    asked = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        async with gate.held():
            pass
    return caught.value, time.monotonic() - asked


async def test_turns_away_at_once_with_the_wait_it_would_have_had():
    gate = Gate(slots=1, patience=1.0, first_guess=4.0)  # a holder keeps its slot about 4 s
    async with slot_taken(gate):
        refusal, took = await ask_timed(gate)
    assert took < 0.5  # at once: a queued caller would give up only after its 1 s
    assert refusal.STATUS == 503 and refusal.headers["Retry-After"] == "4"
    assert "busy" in refusal.message and gate.turned_away == 1
    async with gate.held():  # the slot is free again
        pass


async def test_a_queued_caller_still_without_a_slot_after_its_patience_is_turned_away_then():
    gate = Gate(slots=1, patience=0.2, first_guess=0.01)  # the estimate says a slot frees at once; none does
    async with slot_taken(gate):
        refusal, took = await ask_timed(gate)
    assert took >= 0.2  # it was queued, not turned away at once
    assert refusal.STATUS == 503 and gate.turned_away == 1
