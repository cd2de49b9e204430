"""lib/admission.py: the gate that turns misses away quickly when one process can't keep up."""

import asyncio

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


async def test_turns_away_with_a_503_and_retry_after_who_would_wait_too_long():
    gate = Gate(slots=1, patience=0.05)
    async with gate.held():
        with pytest.raises(Unavailable) as caught:
            async with gate.held():
                pass
    assert caught.value.STATUS == 503 and caught.value.headers["Retry-After"] == "1"
    assert "busy" in caught.value.message and gate.turned_away == 1
    async with gate.held():  # the slot is free again
        pass
