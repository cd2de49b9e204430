"""Schemathesis hooks (SCHEMATHESIS_HOOKS): the rules of the API that JSON Schema can't state.

The history's 16,000 characters in all, the sources' 20,000 bytes and the
body's MAX_BODY_BYTES are sums and sizes, not shapes. Generated bodies that
break one of them are left out: refusing them is right, but a schema-valid
request refused reads as a failure. tests/hardening/test_catalogue.py sends
each of them on purpose. (`before`, a cursor only the API makes, is given a
real one in the run's configuration instead.)
"""

from __future__ import annotations

import json
import os

import schemathesis

MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", "65536"))
MAX_HISTORY_CHARACTERS = 16_000
MAX_SOURCES_BYTES = 20_000


def _history_characters(history) -> int:
    if not isinstance(history, list):
        return 0
    return sum(len(turn["content"]) for turn in history if isinstance(turn, dict) and isinstance(turn.get("content"), str))


@schemathesis.hook
def filter_body(ctx, body) -> bool:
    if not isinstance(body, dict):
        return True
    if _history_characters(body.get("history")) > MAX_HISTORY_CHARACTERS:
        return False
    if isinstance(body.get("sources"), list) and len(json.dumps(body["sources"])) > MAX_SOURCES_BYTES:
        return False
    # As the client will send it: JSON with every non-ASCII character escaped.
    return len(json.dumps(body).encode()) <= MAX_BODY_BYTES
