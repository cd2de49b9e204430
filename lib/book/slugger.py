"""Heading anchors exactly as github-slugger makes them, which is what Docusaurus uses."""

from __future__ import annotations

import unicodedata

# github-slugger strips these Unicode general categories (script/generate-regex.mjs):
# other numbers, every punctuation but the connector `_` (and `-`, which it keeps),
# symbols, controls, private use, format, unassigned, and separators but ` `.
_STRIPPED_CATEGORIES = frozenset(
    ("No", "Pe", "Pf", "Pi", "Ps", "Po", "Pd", "Sc", "Sk", "Sm", "So",
     "Cc", "Co", "Cf", "Cn", "Zl", "Zp", "Zs")
)

# Symbols that Unicode also calls Alphabetic, which github-slugger keeps:
# circled letters and the squared, parenthesised and negative-squared Latin capitals.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


def _kept(char: str) -> bool:
    if char in " -":
        return True
    if unicodedata.category(char) not in _STRIPPED_CATEGORIES:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _ALPHABETIC_SYMBOLS)


def slug(text: str, maintain_case: bool = False) -> str:
    """One heading's anchor, before duplicates are numbered."""
    if not maintain_case:
        text = text.lower()
    return "".join(char for char in text if _kept(char)).replace(" ", "-")


class Slugger:
    """Numbers repeated anchors within one page: `setup`, `setup-1`, `setup-2`."""

    def __init__(self) -> None:
        self._occurrences: dict[str, int] = {}

    def slug(self, text: str, maintain_case: bool = False) -> str:
        original = slug(text, maintain_case)
        result = original
        while result in self._occurrences:
            self._occurrences[original] += 1
            result = f"{original}-{self._occurrences[original]}"
        self._occurrences[result] = 0
        return result
