"""Answers quoted from the passages: the best sentences for the question, cited, when no model writes one."""

from __future__ import annotations

import re
from typing import Sequence

from lib.index import sparse

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[A-Z0-9`\"'(])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # a Markdown link or image: keep its text only
_LIST_MARK = re.compile(r"^(?:[-*+>]|\d+[.)])\s+")
EXTRACT_SENTENCES = 3


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs of a passage, each on one line: code, tables and headings left out."""
    paragraphs, lines, in_code = [], [], False
    for line in text.splitlines() + [""]:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code or stripped.startswith(("|", "#", "import ", "export ")):
            continue
        if not stripped:
            if lines:
                paragraphs.append(" ".join(lines))
            lines = []
            continue
        lines.append(_LIST_MARK.sub("", stripped))
    return paragraphs


def _sentences(text: str) -> list[str]:
    found = []
    for paragraph in _paragraphs(_LINK.sub(r"\1", text)):
        found.extend(sentence.strip() for sentence in _SENTENCE_END.split(paragraph))
    return [sentence for sentence in found if len(sentence) >= 20]


def extract(question: str, texts: Sequence[str], *, cite: bool = True) -> str:
    """The sentences that best answer the question, quoted with their passage numbers."""
    wanted = set(sparse.terms(question))
    scored, seen = [], set()
    for n, text in enumerate(texts, start=1):
        for order, sentence in enumerate(_sentences(text)):
            if sentence in seen:  # overlapping chunks repeat sentences
                continue
            seen.add(sentence)
            overlap = len(wanted & set(sparse.terms(sentence)))
            # Prefer sentences that share the question's terms, then better passages, then earlier sentences.
            scored.append((-overlap, n, order, sentence))
    if not scored:
        return ""
    best = sorted(scored)[:EXTRACT_SENTENCES]
    best.sort(key=lambda item: (item[1], item[2]))
    if cite:
        return " ".join(f"{sentence} [{n}]" for _, n, _, sentence in best)
    return " ".join(sentence for _, _, _, sentence in best)
