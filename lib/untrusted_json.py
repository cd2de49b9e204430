"""JSON that came from outside (a request's body, or a row an older version stored), read without trusting it.

Python's json module recurses once per level of nesting, and a string may hold
a lone surrogate that no UTF-8 encoder takes. So the depth of a text is
measured first, without recursion (one pass of a regular expression over its
strings and brackets), and nothing deeper than a fixed bound is ever parsed; lone surrogates in what was
parsed are replaced with U+FFFD before anything writes it out again.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # far more than any value of this API needs, far less than any recursion limit

# A JSON string, to its closing quote or to the end of the text, or a bracket: one pass, left to right, so
# that every character is looked at once however the quotes and backslashes fall.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
# Lone surrogates as JSON writes them (json.dumps escapes them), or as characters already decoded.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the arrays and objects of a JSON text nest more than `limit` deep, counted without recursion.

    Brackets inside strings don't count. Only a text the parser would refuse
    anyway can be counted wrong.
    """
    if text.count("[") + text.count("{") <= limit:  # too few brackets to nest that deep, wherever they are
        return False
    level = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            level += 1
            if level > limit:
                return True
        elif token in ("]", "}"):
            level -= 1
    return False


def stored(text: Any, default: Any) -> Any:
    """The JSON value a stored text holds, every string valid Unicode; `default` when it holds none (not JSON, not
    text, or nested deeper than MAX_DEPTH)."""
    if not isinstance(text, str) or not text:
        return default
    if nested_deeper_than(text, MAX_DEPTH):
        return default
    try:
        value = json.loads(text)
    except ValueError:
        return default
    return valid_text(value) if _ESCAPED_SURROGATE.search(text) or _SURROGATE.search(text) else value


def valid_text(value: Any, _level: int = 0) -> Any:
    """`value` with every lone surrogate in its strings and keys replaced by U+FFFD.

    Recursive, but only ever given values whose depth `nested_deeper_than` has bounded.
    """
    if isinstance(value, str):
        return _SURROGATE.sub(_REPLACEMENT, value)
    if _level > MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [valid_text(item, _level + 1) for item in value]
    if isinstance(value, dict):
        return {valid_text(key): valid_text(item, _level + 1) for key, item in value.items()}
    return value

