"""Answers quoted from the passages when no model writes one: the part of the best passage that answers the
question, in plain text, cited once.

A passage is read as a sequence of units: the sentences of its paragraphs,
its lists (each whole, items in order), its code blocks and its table rows.
The question's intent decides which unit anchors the answer (a how-to wants
steps, a definition the sentence that defines), and the answer is the anchor
and what follows it, within a budget. A sentence that introduces what follows
with a colon is quoted with it, or not at all.
"""

from __future__ import annotations

import functools
import html
import math
import re
from typing import Sequence

from attrs import field, frozen

from lib.index import sparse

HOW_TO, DEFINITION, TROUBLESHOOTING, FACT = "how_to", "definition", "troubleshooting", "fact"
MAX_SENTENCES = 3  # prose sentences of one answer
MAX_CHARACTERS = 500  # of prose, lists and code not counted
MAX_LIST_ITEMS = 10
MAX_CODE_LINES = 12
REST_SHARE = 0.3  # of the question's weight left unanswered, when another passage may add to the answer

_HOW_TO = re.compile(
    r"^(?:how\b(?! (?:many|much|long|often|big|far|old)\b)|(?:what|which) (?:are |is )?(?:the )?(?:steps|way)\b|steps?\b|can i\b|should i\b)"
)
_DEFINITION = re.compile(r"^(?:what(?:'s| is| are| was| does| do)\b(?!.*\b(?:i|my|we)\b)|define\b|meaning of\b|who (?:is|are)\b)")
_TROUBLE = re.compile(
    r"\b(?:wrong|not working|doesn't|does not|won't|will not|fails?|failing|error|problem|broken|stuck|smells?|what should i check)\b"
)
_DEFINES = re.compile(r"\b(?:is|are|means|mean|describes?|refers? to|stands? for|called)\b", re.I)
_ANAPHORA = re.compile(r"^(?:it|this|that|these|those|they|such|there|here|then|so|both)\b", re.I)

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(“‘*`\[]?[A-Z0-9])")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:([-*+])|(\d{1,3})[.)])\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]*-{2,}[\s:|-]*$")
_SKIPPED_LINE = re.compile(r"^\s*(?:#{1,6}\s|:::|import\s|export\s|</?[A-Za-z][\w.]*(?:\s[^>]*)?/?>\s*$)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_EMPHASIS = re.compile(r"(\*\*|__|\*)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_CITATION = re.compile(r"\[\d{1,3}\]")
_PUNCTUATION_END = re.compile(r"([.!?:;]+)$")


# Reading a passage


def plain(markdown: str) -> str:
    """One line of Markdown as a reader would read it: link text without its address, code spans without
    their backticks, no emphasis marks or HTML tags, entities decoded, single spaces."""
    markdown = _REFERENCE_LINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub(r"\1", markdown)))
    code: list[str] = []

    def hold(span: re.Match) -> str:  # code is kept as written: `**kwargs` keeps its stars
        code.append(span.group(2).strip())
        return f"\x00{len(code) - 1}\x00"

    text = _HTML_TAG.sub("", _CODE_SPAN.sub(hold, markdown))
    while True:
        stripped = _EMPHASIS.sub(r"\2", text)
        if stripped == text:
            break
        text = stripped
    text = html.unescape(_CITATION.sub("", text))
    text = re.sub("\x00(\\d+)\x00", lambda held: code[int(held.group(1))], text)
    return " ".join(text.split())


@frozen
class Unit:
    """One thing that can be quoted: a sentence, a whole list, a code block or a table row."""

    kind: str  # "sentence", "list", "code" or "row"
    text: str  # plain text; a list's items and a code block's lines joined by newlines
    paragraph: int  # units of one paragraph, list or table share it
    ordered: bool = False
    bold: bool = False  # the Markdown held **bold** text: books bold the term a sentence defines
    terms: frozenset = field(default=None, eq=False)

    def __attrs_post_init__(self):
        if self.terms is None:
            object.__setattr__(self, "terms", frozenset(sparse.terms(self.text)))

    @property
    def introduces(self) -> bool:
        """A sentence ending in a colon announces what comes next."""
        return self.kind in ("sentence", "row") and self.text.rstrip().endswith(":")

    @property
    def items(self) -> list[str]:
        return self.text.split("\n")


def units(markdown: str) -> list[Unit]:
    """A passage's units in order; headings, MDX imports and admonition markers are left out."""
    found: list[Unit] = []
    lines = markdown.replace("\r\n", "\n").split("\n")
    paragraph, i = 0, 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            i = _code(lines, i, found, paragraph)
        elif line.lstrip().startswith("|"):
            i = _table(lines, i, found, paragraph)
        elif _LIST_ITEM.match(line):
            i = _list(lines, i, found, paragraph)
        elif not line.strip() or _SKIPPED_LINE.match(line):
            i += 1
            continue
        else:
            i = _paragraph(lines, i, found, paragraph)
        paragraph += 1
    return found


def _starts_block(line: str) -> bool:
    return bool(not line.strip() or _FENCE.match(line) or line.lstrip().startswith("|") or _LIST_ITEM.match(line)
                or _SKIPPED_LINE.match(line))


def _paragraph(lines: list[str], i: int, found: list[Unit], paragraph: int) -> int:
    text = []
    while i < len(lines) and not _starts_block(lines[i]):
        text.append(lines[i].strip())
        i += 1
    for sentence in _SENTENCE_END.split(" ".join(text)):
        if sentence.strip():
            found.append(Unit("sentence", plain(sentence), paragraph, bold="**" in sentence))
    return i


def _list(lines: list[str], i: int, found: list[Unit], paragraph: int) -> int:
    items: list[str] = []
    ordered = bool(_LIST_ITEM.match(lines[i]).group(2))
    while i < len(lines):
        item = _LIST_ITEM.match(lines[i])
        if item:
            items.append(item.group(3).strip())
        elif lines[i].strip() and not _starts_block(lines[i]) and items:
            items[-1] += " " + lines[i].strip()  # the item's text goes on
        elif not lines[i].strip() and i + 1 < len(lines) and _LIST_ITEM.match(lines[i + 1]):
            pass  # a blank line between two items of one list
        else:
            break
        i += 1
    text = "\n".join(plain(item) for item in items[:MAX_LIST_ITEMS])
    found.append(Unit("list", text, paragraph, ordered=ordered, bold=any("**" in item for item in items)))
    return i


def _code(lines: list[str], i: int, found: list[Unit], paragraph: int) -> int:
    fence = _FENCE.match(lines[i]).group(1)
    code = []
    i += 1
    while i < len(lines) and not lines[i].strip().startswith(fence):
        code.append(lines[i])
        i += 1
    if code:
        found.append(Unit("code", "\n".join(code).strip("\n"), paragraph))
    return i + 1


def _table(lines: list[str], i: int, found: list[Unit], paragraph: int) -> int:
    """Each row of a table as a line of its own: 'first cell: the others; …', the header row left out."""
    rows = []
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        if not _TABLE_RULE.match(lines[i].strip()):
            rows.append([plain(cell) for cell in lines[i].strip().strip("|").split("|")])
        i += 1
    for cells in rows[1:]:
        rest = "; ".join(cell for cell in cells[1:] if cell)
        text = f"{cells[0]}: {rest}" if rest else cells[0]
        found.append(Unit("row", text if text.endswith((".", "!", "?")) else text + ".", paragraph))
    return i


# Choosing what to quote


def intent(question: str) -> str:
    """What kind of answer the question wants: steps, a definition, a fix, or a fact."""
    asked = " ".join(question.lower().replace("’", "'").split())
    if _TROUBLE.search(asked):
        return TROUBLESHOOTING
    if _HOW_TO.match(asked):
        return HOW_TO
    if _DEFINITION.match(asked) and len(sparse.terms(asked)) <= 6:
        return DEFINITION
    return FACT


@frozen
class _Passage:
    n: int  # the number it is cited by
    heading: str
    units: list


def _weights(question: str, passages: Sequence[_Passage]) -> dict[str, float]:
    """Each of the question's terms, weighted by how rare it is among the passages' units (a local IDF)."""
    every = [unit for passage in passages for unit in passage.units]
    weights = {}
    for term in set(sparse.terms(question)):
        frequency = sum(1 for unit in every if term in unit.terms)
        weights[term] = math.log(1 + (len(every) + 1) / (frequency + 0.5)) if frequency else 0.0
    return weights


def _match(terms, weights: dict[str, float]) -> float:
    return sum(weight for term, weight in weights.items() if term in terms)


def _best_passage(passages: Sequence[_Passage], weights: dict[str, float]) -> _Passage:
    """Retrieval's order, unless a later passage holds clearly more of the question, in its heading or text."""
    total = sum(weights.values()) or 1.0

    def score(rank: int, passage: _Passage) -> float:
        heading_terms = frozenset(sparse.terms(passage.heading))
        text_terms = heading_terms.union(*(unit.terms for unit in passage.units))
        return (_match(text_terms, weights) + 0.5 * _match(heading_terms, weights)) / total - 0.25 * rank

    return max(enumerate(passages), key=lambda ranked: (score(*ranked), -ranked[0]))[1]


def _anchors(passage: _Passage, wanted: str, weights: dict[str, float]) -> list[int]:
    """Where the answer may start, best first: the unit that best answers, moved back to what it needs."""

    def score(index: int) -> float:
        unit = passage.units[index]
        value = _unit_match(unit, weights) - 0.01 * index
        if wanted == DEFINITION and unit.kind == "sentence":
            value += 1.0 * bool(_DEFINES.search(unit.text)) + 0.5 * unit.bold
        if wanted in (HOW_TO, TROUBLESHOOTING) and unit.kind == "list":
            value += 1.0 + 0.5 * unit.ordered
        if wanted in (HOW_TO, TROUBLESHOOTING) and unit.introduces and _next_kind(passage.units, index) == "list":
            value += 1.0 + 0.5 * passage.units[index + 1].ordered
        return value

    # Code answers a how-to, with the sentence that introduces it; quoted alone for anything else it is a fragment.
    allowed = [index for index, unit in enumerate(passage.units) if unit.kind != "code" or wanted == HOW_TO]
    starts = [_start(passage.units, index, weights) for index in sorted(allowed, key=score, reverse=True)]
    return list(dict.fromkeys(starts))


def _start(found: list[Unit], best: int, weights: dict[str, float]) -> int:
    """Where an answer anchored at `best` starts: with what leads into it, or what it refers back to."""
    unit = found[best]
    before = found[best - 1] if best > 0 else None
    if before and before.kind == "sentence" and (unit.kind == "list" or unit.kind == "code" and before.introduces):
        return best - 1  # the sentence that leads into the steps or the commands
    if unit.kind == "sentence" and before and before.kind == "sentence" and before.paragraph == unit.paragraph:
        if _ANAPHORA.match(unit.text):
            return best - 1  # "It is harmless" needs what "it" is
        if _match(before.terms, weights) >= _match(unit.terms, weights) / 2:
            return best - 1  # the sentence before says as much of the question: it belongs to the answer
    return best


def _unit_match(unit: Unit, weights: dict[str, float]) -> float:
    """How much of the question a unit holds; a list counts mostly by its best item, or a long list would
    outweigh every sentence merely by its length."""
    if unit.kind != "list":
        return _match(unit.terms, weights)
    best = max(_match(frozenset(sparse.terms(item)), weights) for item in unit.items)
    return best + 0.3 * (_match(unit.terms, weights) - best)


def _next_kind(found: list[Unit], index: int) -> str | None:
    return found[index + 1].kind if index + 1 < len(found) else None


def _window(passage: _Passage, start: int, most: int = MAX_SENTENCES) -> list[Unit]:
    """The anchor and what follows it, within the budget; never a sentence whose colon leads nowhere."""
    chosen: list[Unit] = []
    sentences = characters = 0
    for index in range(start, len(passage.units)):
        unit = passage.units[index]
        if unit.kind in ("sentence", "row"):
            if chosen and (sentences >= most or characters + len(unit.text) > MAX_CHARACTERS):
                break
            sentences += 1
            characters += len(unit.text)
        elif unit.kind == "code" and len(unit.items) > MAX_CODE_LINES:
            break
        elif chosen and not chosen[-1].introduces and unit.paragraph != chosen[-1].paragraph and unit.kind != "list":
            break  # a code block nobody introduced is not part of the answer
        chosen.append(unit)
        if unit.kind == "row" and len(chosen) == 1:
            break  # a table's row is one record: the one the question asks about
        if unit.kind in ("list", "code") and sentences:
            break  # the steps or the commands close the answer
    while chosen and chosen[-1].introduces:
        chosen.pop()  # what it introduced did not fit
    return chosen


def _fragment(found: list[Unit]) -> list[Unit]:
    """A passage that begins inside a sentence (chunks overlap by words) loses that broken start."""
    if found and found[0].kind == "sentence" and re.match(r"^[a-z,;:)\]}\"'.…]", found[0].text):
        return found[1:]
    return found


# Writing the answer


def _written(chosen: list[Unit], n: int | None) -> str:
    """The units as plain text, the passage's number cited once: after the last sentence, or the last step."""
    cite_at = max(
        (index for index, unit in enumerate(chosen) if unit.kind in ("sentence", "row", "list")),
        default=None,
    )
    parts: list[str] = []
    for index, unit in enumerate(chosen):
        text = unit.text
        if unit.kind == "list":
            items = text.split("\n")
            if n is not None and index == cite_at:
                items[-1] = _cite(items[-1], n)
            text = "\n".join(f"{number}. {item}" if unit.ordered else f"- {item}" for number, item in enumerate(items, 1))
        elif unit.kind == "code":
            text = "```\n" + text + "\n```"
        elif n is not None and index == cite_at:
            text = _cite(text, n)
        if parts and (unit.kind in ("list", "code") or chosen[index - 1].kind in ("list", "code")):
            parts.append("\n\n" + text)  # a block of its own, as Markdown and plain text both read it
        else:
            parts.append(text)
    return " ".join(parts).replace(" \n", "\n")


def _cite(sentence: str, n: int) -> str:
    """`[n]` before the sentence's closing punctuation: "…one command [1]."."""
    end = _PUNCTUATION_END.search(sentence)
    if end is None:
        return f"{sentence} [{n}]"
    return f"{sentence[: end.start()]} [{n}]{end.group(1)}"


@functools.lru_cache(maxsize=4096)
def snippet(markdown: str, limit: int) -> str:
    """The start of a passage as plain text, for a source's preview: no code, no table pipes, no link syntax.

    Remembered: the same passages are shown again and again, twice for each answer (its sources go out first)."""
    shown = []
    for unit in units(markdown[: limit * 3]):  # only the start can show: read no more than that
        if unit.kind != "code":
            shown.append(unit.text.replace("\n", "; ") if unit.kind == "list" else unit.text)
    text = " ".join(" ".join(shown).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def extract(question: str, texts: Sequence[str], *, headings: Sequence[str] = (), cite: bool = True) -> str:
    """The part of the passages that best answers the question, as plain text, citing its passage's number.

    `headings` (the passages' title and section, in the same order) help
    choose the passage; without them the text alone does. When the question
    asks about more than that part holds, a sentence or two of another
    passage that holds the rest follows.
    """
    passages = [
        _Passage(n, headings[n - 1] if n <= len(headings) else "", _fragment(units(text)))
        for n, text in enumerate(texts, start=1)
    ]
    passages = [passage for passage in passages if passage.units]
    if not passages:
        return ""
    weights = _weights(question, passages)
    wanted = intent(question)
    passage = _best_passage(passages, weights)
    chosen = _quoted(passage, wanted, weights)
    if not chosen:
        return ""
    answer = _written(chosen, passage.n if cite else None)
    rest = {term: weight for term, weight in weights.items() if not any(term in unit.terms for unit in chosen)}
    if sum(rest.values()) >= REST_SHARE * sum(weights.values()):
        others = [other for other in passages if other is not passage]
        if others:
            second = _best_passage(others, rest)
            more = _quoted(second, FACT, rest, sentences=1)
            held = [term for term in rest if any(term in unit.terms for unit in more)]
            enough = len(held) >= min(2, len(rest)) and _match(held, rest) >= sum(rest.values()) / 2
            if more and enough and not _ANAPHORA.match(more[0].text):
                answer += "\n\n" + _written(more, second.n if cite else None)
    return answer


def _quoted(passage: _Passage, wanted: str, weights: dict[str, float], sentences: int = MAX_SENTENCES) -> list[Unit]:
    for start in _anchors(passage, wanted, weights):
        chosen = _window(passage, start, sentences)
        if chosen:  # empty when all it had was a sentence whose code block is too long to quote
            return chosen
    return []
