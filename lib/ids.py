"""Ids of requests and answers: unique, not secret."""

from __future__ import annotations

import os
import random

# A generator seeded once from the OS costs a microsecond an id, where uuid4 asks the OS for randomness
# every time (40 µs each here, and an answer takes two).
_IDS = random.Random(os.urandom(32))


def new_id() -> str:
    """32 random hex digits, as a uuid4's."""
    return f"{_IDS.getrandbits(128):032x}"
