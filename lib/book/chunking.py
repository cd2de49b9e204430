"""Pages cut into chunks for embedding: by heading first, then by size, each chunk under exactly one anchor."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from typing import Iterator, Sequence

from attrs import frozen

from lib.book.links import section_url
from lib.book.pages import Page, Section

# cl100k_base's pre-tokenizer, with \p{L} and \p{N} spelled for Python's `re`:
# contractions, words (with one leading space or sign), 1-3 digit groups,
# punctuation runs, and whitespace.
_PIECES = re.compile(
    r"""'(?i:s|t|re|ve|m|ll|d)"""
    r"""|(?:[^\r\n\w]|_)?[^\W\d_]+"""
    r"""|\d{1,3}"""
    r"""| ?(?:[^\s\w]|_)+[\r\n]*"""
    r"""|\s*[\r\n]+"""
    r"""|\s+(?!\S)"""
    r"""|\s+"""
)
_WORD_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[^\W\d_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_FENCE = re.compile(r"[ \t]*(?P<marker>`{3,}|~{3,})")
_SENTENCE_GAP = re.compile(r"(?<=[.!?])[ \t]+|(?<=[.!?][\"')\]])[ \t]+|[ \t]*\n[ \t]*")
_WORD = re.compile(r"\S+")


def count_tokens(text: str) -> int:
    """An estimate of the number of OpenAI cl100k_base tokens in `text`, without tiktoken.

    The text is first cut the way cl100k's pre-tokenizer cuts it, so numbers
    (one token per 1-3 digits), whitespace runs and contractions come out as
    cl100k counts them. The BPE merges inside each piece are guessed: an ASCII
    word part (camelCase is split) of up to 8 letters is one token, longer ones
    one per 6 letters; CJK is one token per character, other scripts one per 2
    letters; punctuation one per 2 characters. For "The quick brown fox jumps
    over the lazy dog." it gives 10, as cl100k does. It was not measured against
    tiktoken here (nothing may be downloaded), so take it as a sizing estimate,
    not a count to bill by: it errs high on rare long words and symbol-heavy
    code, and low on words cl100k splits though they are short.
    """
    return sum(map(_piece_tokens, _PIECES.findall(text)))


@functools.lru_cache(maxsize=65536)
def _piece_tokens(piece: str) -> int:
    if piece.isspace() or piece.isdigit() or piece.startswith("'") and piece[1:].isalpha() and len(piece) <= 3:
        return 1
    letters = piece.lstrip(" ").lstrip()
    if letters and not (letters[0].isalpha()):
        # a sign or punctuation mark glued to the word is usually its own token
        word = letters[1:] if len(letters) > 1 and letters[1].isalpha() else ""
        if not word:
            return max(1, math.ceil(len(letters.strip()) / 2))
        return 1 + _word_tokens(word)
    return _word_tokens(letters) if letters else 1


def _word_tokens(word: str) -> int:
    total = 0
    for part in _WORD_PART.findall(word):
        if part.isascii():
            total += 1 if len(part) <= 8 else math.ceil(len(part) / 6)
        else:
            cjk = len(_CJK.findall(part))
            total += cjk + math.ceil((len(part) - cjk) / 2)
    return max(total, 1)


def embed_text(title: str, headings: Sequence[str], text: str) -> str:
    """What is embedded and indexed of a chunk: `Title > H2 > H3`, a blank line, then the text."""
    return " > ".join((title, *headings)) + "\n\n" + text


@frozen
class Chunk:
    text: str
    title: str
    headings: tuple[str, ...]
    section: str
    url: str
    source: str
    position: int
    book: str | None = None

    @property
    def embed_text(self) -> str:
        return embed_text(self.title, self.headings, self.text)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()


def chunk_page(page: Page, chunk_size: int = 500, overlap: int = 50) -> list[Chunk]:
    """The page's chunks in order; a section is never merged with another, an empty one gives none."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise ValueError(f"overlap must be from 0 to chunk_size - 1 ({chunk_size - 1}), got {overlap}")
    chunks: list[Chunk] = []
    for section, headings in _heading_paths(page.sections):
        if page.url:
            url = section_url(page.url, section.anchor)
        else:
            url = f"{page.route}#{section.anchor}" if section.anchor else page.route
        for text in split_text(section.text, chunk_size, overlap):
            chunks.append(Chunk(
                text=text,
                title=page.title,
                headings=headings,
                section=section.heading,
                url=url,
                source=page.source,
                position=len(chunks),
                book=page.book,
            ))
    return chunks


def _heading_paths(sections: list[Section]) -> Iterator[tuple[Section, tuple[str, ...]]]:
    """Each section with the headings above it and its own; the page's opening section has none."""
    stack: list[Section] = []
    for index, section in enumerate(sections):
        if index == 0:
            yield section, ()
            continue
        while stack and stack[-1].level >= section.level:
            stack.pop()
        stack.append(section)
        yield section, tuple(above.heading for above in stack)


def split_text(text: str, chunk_size: int = 500, overlap: int = 50) -> list[str]:
    """Cut one section's text into pieces of at most chunk_size tokens.

    Cuts fall between paragraphs, else between sentences (or lines), else
    between words. A fenced code block is never cut: one bigger than chunk_size
    is a piece of its own. Each piece after the first repeats about `overlap`
    tokens from the end of the one before, never starting inside code. Every
    piece is an exact slice of `text`.
    """
    spans = _spans(text, chunk_size)
    pieces: list[str] = []
    index = 0
    start = spans[0][0] if spans else 0
    while index < len(spans):
        first_start, first_end, _ = spans[index]
        if start != first_start and count_tokens(text[start:first_end]) > chunk_size:
            start = first_start  # the overlap doesn't fit beside this block: go without it
        end = _fill(text, spans, index, start, chunk_size)
        pieces.append(text[start: spans[end - 1][1]])
        if end < len(spans):
            start = _overlap_start(text, spans, index, end, start, overlap)
        index = end
    return pieces


def _fill(text: str, spans: list[tuple[int, int, bool]], index: int, start: int, chunk_size: int) -> int:
    """How many spans, from spans[index], the piece starting at `start` can hold (at least one).

    Counts add up span by span (each with the whitespace before it), which is
    how the pre-tokenizer cuts at whitespace anyway; the whole piece is counted
    once at the end, in case a boundary tokenized otherwise.
    """
    total = count_tokens(text[start: spans[index][1]])
    end = index + 1
    while end < len(spans):
        added = count_tokens(text[spans[end - 1][1]: spans[end][1]])
        if total + added > chunk_size:
            break
        total += added
        end += 1
    while end - 1 > index and count_tokens(text[start: spans[end - 1][1]]) > chunk_size:
        end -= 1
    return end


def _overlap_start(
    text: str, spans: list[tuple[int, int, bool]], first: int, end: int, start: int, overlap: int
) -> int:
    """Where the next piece starts: a word about `overlap` tokens before this piece's end."""
    next_start = spans[end][0]
    if overlap == 0:
        return next_start
    piece_end = spans[end - 1][1]
    candidates = []
    for span_start, span_end, is_code in spans[first:end]:
        if is_code:
            candidates.append(span_start)  # code is repeated whole or not at all
        else:
            candidates.extend(word.start() for word in _WORD.finditer(text, span_start, span_end))
    best = next_start
    for candidate in reversed(candidates):
        if candidate <= start:
            break
        if count_tokens(text[candidate:piece_end]) > overlap:
            break
        best = candidate
    return best


def _spans(text: str, chunk_size: int) -> list[tuple[int, int, bool]]:
    """(start, end, is_code) of the smallest units a piece may be made of, in order."""
    units: list[tuple[int, int, bool]] = []
    for start, end, is_code in _blocks(text):
        if is_code or count_tokens(text[start:end]) <= chunk_size:
            units.append((start, end, is_code))
            continue
        for sentence_start, sentence_end in _sentences(text, start, end):
            if count_tokens(text[sentence_start:sentence_end]) <= chunk_size:
                units.append((sentence_start, sentence_end, False))
            else:
                units.extend((a, b, False) for a, b in _words(text, sentence_start, sentence_end, chunk_size))
    return units


def _blocks(text: str) -> Iterator[tuple[int, int, bool]]:
    """Paragraphs (separated by blank lines) and whole fenced code blocks."""
    position = 0
    block_start = None
    block_end = 0
    fence: tuple[str, int] | None = None
    for line in text.split("\n"):
        line_start, line_end = position, position + len(line)
        position = line_end + 1
        if fence is not None:
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= fence[1]:
                fence = None
                yield block_start, line_end, True
                block_start = None
            continue
        opening = _FENCE.match(line)
        if opening and not (opening["marker"][0] == "`" and "`" in line[opening.end():]):
            if block_start is not None:
                yield block_start, block_end, False
            fence = (opening["marker"][0], len(opening["marker"]))
            block_start = line_start + len(line) - len(line.lstrip())
            continue
        if not line.strip():
            if block_start is not None:
                yield block_start, block_end, False
                block_start = None
            continue
        if block_start is None:
            block_start = line_start + len(line) - len(line.lstrip())
        block_end = line_start + len(line.rstrip())
    if block_start is not None:
        # an unclosed fence runs to the end, as in CommonMark
        yield block_start, len(text.rstrip()), fence is not None


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    position = start
    for gap in _SENTENCE_GAP.finditer(text, start, end):
        if gap.start() > position:
            yield position, gap.start()
        position = gap.end()
    if position < end:
        yield position, end


def _words(text: str, start: int, end: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Each word, and a word longer than chunk_size cut into pieces that fit."""
    for word in _WORD.finditer(text, start, end):
        word_start, word_end = word.span()
        while count_tokens(text[word_start:word_end]) > chunk_size:
            cut = _longest_prefix(text, word_start, word_end, chunk_size)
            yield word_start, cut
            word_start = cut
        yield word_start, word_end


def _longest_prefix(text: str, start: int, end: int, chunk_size: int) -> int:
    low, high = start + 1, end
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[start:middle]) <= chunk_size:
            low = middle
        else:
            high = middle - 1
    return low
