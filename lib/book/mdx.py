"""MDX reduced to the Markdown a reader sees: no imports, exports, comments or JSX tags.

The text inside components stays (`<TabItem>pip install</TabItem>` keeps `pip install`),
admonitions become a line such as `Tip: Title`, and fenced code is kept verbatim:
nothing inside a fence is ever read as a heading, a tag or a comment.
"""

from __future__ import annotations

import html
import re

from attrs import frozen

_FENCE = re.compile(r"(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)")
_ESM = re.compile(r"(?:import|export)\b")
# Markdown that can't belong to an import/export statement: it ends the statement
_NOT_ESM = re.compile(r"\s*(?:#{1,6}\s|`{3}|~{3}|<[A-Za-z/>]|:::)")
_ADMONITION = re.compile(r"\s*:{3,}(?P<kind>[A-Za-z][\w-]*)(?:\[(?P<bracketed>[^\]]*)\])?(?:[ \t]+(?P<title>.*?))?\s*")
_ADMONITION_END = re.compile(r"\s*:{3,}\s*")
_TAG_START = re.compile(r"<(?P<closing>/?)(?P<name>[A-Za-z][\w.:-]*)?")
_ATX_HEADING = re.compile(r" {0,3}(?P<marks>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*")
_CUSTOM_ID = re.compile(r"\s*\{#(?P<id>(?:.(?!\{#|\}))*.)\}$")
_CODE_SPAN = re.compile(r"(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)")


@frozen
class Line:
    text: str
    code: bool = False


def to_markdown(body: str) -> list[Line]:
    """The body's lines with MDX-only syntax removed; lines of fenced code are marked `code`."""
    return _Reader().read(body)


def parse_heading(text: str) -> tuple[int, str] | None:
    """(level, raw heading text) for an ATX heading line such as `## Install {#setup}`."""
    match = _ATX_HEADING.fullmatch(text)
    if match is None:
        return None
    return len(match["marks"]), (match["text"] or "").strip()


def heading_text(raw: str) -> tuple[str, str | None]:
    """The heading as plain text (what Docusaurus slugs) and its explicit `{#id}`, if any."""
    plain = _plain_inline(raw)
    match = _CUSTOM_ID.search(plain)
    if match is None:
        return plain, None
    return plain[: match.start()] + plain[match.end():], match["id"]


def _plain_inline(text: str) -> str:
    """Inline Markdown reduced to its text: code, emphasis, links and images lose their markup."""
    parts = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(_plain_prose(text[position: match.start()]))
        code = match["code"]
        if len(code) > 1 and code.startswith(" ") and code.endswith(" ") and code.strip():
            code = code[1:-1]
        parts.append(code)
        position = match.end()
    parts.append(_plain_prose(text[position:]))
    return "".join(parts).strip()


def _plain_prose(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"\*(?=\S)(.+?)(?<=\S)\*", r"\1", text)
    text = re.sub(r"(?<![\w\\])_(?=\S)(.+?)(?<=\S)_(?!\w)", r"\1", text)
    text = re.sub(r"~~(?=\S)(.+?)(?<=\S)~~", r"\1", text)
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return html.unescape(text)


class _Reader:
    """Reads a body line by line, remembering what a construct left open on the previous line."""

    def __init__(self) -> None:
        self._lines: list[Line] = []
        self._fence: tuple[str, int, int] | None = None  # marker character, length, indent
        self._transparent_fences: list[tuple[str, int]] = []  # ```mdx-code-block: content is MDX
        self._in_esm = False
        self._in_html_comment = False
        self._in_mdx_comment = False
        self._in_tag = False
        self._tag_quote: str | None = None
        self._tag_braces = 0

    def read(self, body: str) -> list[Line]:
        for line in body.split("\n"):
            self._read_line(line)
        return self._lines

    def _read_line(self, line: str) -> None:
        if self._fence is not None:
            self._read_code(line)
            return
        if self._in_html_comment or self._in_mdx_comment or self._in_tag:
            self._lines.append(Line(self._strip(line)))
            return
        if self._in_esm:
            if not line.strip():
                self._in_esm = False
            elif not _NOT_ESM.match(line):
                return
            self._in_esm = False
        fence = _FENCE.fullmatch(line)
        if fence and not (fence["marker"][0] == "`" and "`" in fence["info"]):
            self._open_fence(line, fence)
            return
        if _ESM.match(line):
            self._in_esm = True
            return
        admonition = _ADMONITION.fullmatch(line)
        if admonition:
            self._lines.append(Line(self._admonition(admonition)))
            return
        if _ADMONITION_END.fullmatch(line):
            self._lines.append(Line(""))
            return
        self._lines.append(Line(self._strip(line)))

    def _open_fence(self, line: str, fence: re.Match) -> None:
        marker, info = fence["marker"], fence["info"].strip()
        if self._transparent_fences and not info:
            character, length = self._transparent_fences[-1]
            if marker[0] == character and len(marker) >= length:
                self._transparent_fences.pop()
                return
        if info.split(" ", 1)[0] == "mdx-code-block":
            self._transparent_fences.append((marker[0], len(marker)))
            return
        indent = len(fence["indent"].expandtabs(4))
        self._fence = (marker[0], len(marker), indent)
        self._lines.append(Line(line[len(fence["indent"]):], code=True))

    def _read_code(self, line: str) -> None:
        character, length, indent = self._fence
        stripped = line.strip()
        if stripped and set(stripped) == {character} and len(stripped) >= length:
            self._fence = None
            self._lines.append(Line(stripped, code=True))
            return
        # CommonMark removes up to the opening fence's indentation from each code line
        removable = len(line) - len(line.lstrip(" "))
        self._lines.append(Line(line[min(indent, removable):], code=True))

    def _admonition(self, match: re.Match) -> str:
        kind = match["kind"].replace("-", " ").capitalize()
        title = match["bracketed"] if match["bracketed"] is not None else match["title"]
        title = self._strip(title or "").strip()
        return f"{kind}: {title}" if title else f"{kind}:"

    def _strip(self, line: str) -> str:
        """The line without comments and JSX/HTML tags; inline code is left as it is."""
        kept: list[str] = []
        index, length = 0, len(line)
        removed = False
        while index < length:
            if self._in_html_comment:
                end = line.find("-->", index)
                if end < 0:
                    break
                self._in_html_comment = False
                index = end + 3
                continue
            if self._in_mdx_comment:
                end = line.find("*/}", index)
                if end < 0:
                    break
                self._in_mdx_comment = False
                index = end + 3
                continue
            if self._in_tag:
                index = self._skip_tag(line, index)
                removed = True
                continue
            char = line[index]
            if char == "`":
                ticks = len(line) - len(line[index:].lstrip("`")) - index
                close = re.compile(rf"(?<!`)`{{{ticks}}}(?!`)").search(line, index + ticks)
                end = close.end() if close else index + ticks
                kept.append(line[index:end])
                index = end
            elif line.startswith("<!--", index):
                self._in_html_comment = True
                removed = True
                index += 4
            elif line.startswith("{/*", index):
                self._in_mdx_comment = True
                removed = True
                index += 3
            elif char == "<" and self._tag_at(line, index):
                tag = _TAG_START.match(line, index)
                if (tag["name"] or "").lower() == "br":
                    kept.append(" ")
                self._in_tag = True
                index = tag.end()
            elif char == "\\" and index + 1 < length:
                kept.append(line[index: index + 2])
                index += 2
            else:
                kept.append(char)
                index += 1
        text = "".join(kept)
        if removed:
            # `a <Badge/> b` reads `a b`; indentation is left alone
            text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)
        return text

    @staticmethod
    def _tag_at(line: str, index: int) -> bool:
        tag = _TAG_START.match(line, index)
        if tag is None:
            return False
        # A named tag, or a fragment `<>` / `</>`; `a < b` is text
        return bool(tag["name"]) or line.startswith(">", tag.end())

    def _skip_tag(self, line: str, index: int) -> int:
        """Move past the rest of a tag (attributes may hold quotes and {expressions}); stop at the line's end."""
        while index < len(line):
            char = line[index]
            index += 1
            if self._tag_quote:
                if char == self._tag_quote:
                    self._tag_quote = None
            elif char in "\"'`" and (self._tag_braces or line[index - 2: index - 1] == "="):
                self._tag_quote = char
            elif char == "{":
                self._tag_braces += 1
            elif char == "}":
                self._tag_braces = max(0, self._tag_braces - 1)
            elif char == ">" and not self._tag_braces:
                self._in_tag = False
                return index
        return index
