"""MDX partials put back where a doc uses them, as Docusaurus renders them: `import Note from './_note.md'`
and a line `<Note />` become the partial's Markdown, so that what the reader sees on the page is searched.

Only a local Markdown file counts, imported by a relative path or from `@site/` (with or without its
`{toc}`), and used as a self-closing tag on a line of its own. A partial may use partials of its own, up to
MAX_DEPTH deep, and never itself; no page or partial grows past MAX_CHARACTERS with them. Nothing inside fenced code
is read: a code example that shows an import stays an example. A partial that can't be read
leaves the tag, which lib.book.mdx then drops, as before.

Docusaurus slugs a partial's headings apart from the page's (each MDX file has its own ids), so each
partial's text is set between a PARTIAL_START and a PARTIAL_END line, for lib.book.pages to slug it apart.
"""

from __future__ import annotations

import re
from pathlib import Path

from lib.book.front_matter import FrontMatterError, split_front_matter
from lib.book.site import find_config

# Lines that no Markdown holds (private-use characters), around each partial's text.
PARTIAL_START, PARTIAL_END = "\ue000partial\ue000", "\ue000/partial\ue000"
MAX_DEPTH = 5
MAX_CHARACTERS = 200_000  # a page with its partials: one used in many places, many levels deep, stops there
_IMPORT = re.compile(
    r"""import\s+(?P<name>[A-Z][\w$]*)\s*(?:,\s*\{[^{}]*\})?\s+from\s+['"](?P<path>(?:\.{1,2}/|@site/)[^'"]+\.mdx?)['"]\s*;?\s*"""
)
_USE = re.compile(r"[ \t]*<(?P<name>[A-Z][\w$]*)(?:\s[^<>]*)?/>\s*")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")


def inline_partials(body: str, path: Path) -> str:
    """The doc's body (its front matter taken off) with each partial it uses in place of its tag."""
    return _Inliner().inline(body, Path(path).resolve(), depth=0, seen=frozenset())


class _Inliner:
    def __init__(self) -> None:
        self.bodies: dict[Path, str | None] = {}  # each partial read once per page

    def inline(self, text: str, path: Path, *, depth: int, seen: frozenset[Path]) -> str:
        lines = text.split("\n")
        readable, _ = _outside_code(lines)
        imported = {}
        for line, outside in zip(lines, readable):
            match = _IMPORT.fullmatch(line) if outside else None
            if match:
                found = _resolve(match["path"], path)
                if found is not None:
                    imported[match["name"]] = found
        if not imported:
            return text
        result, room = [], MAX_CHARACTERS - len(text)
        for line, outside in zip(lines, readable):
            use = _USE.fullmatch(line) if outside else None
            partial = imported.get(use["name"]) if use else None
            body = self.body(partial, depth + 1, seen | {path}) if partial is not None else None
            if body is not None and len(body) <= room:
                room -= len(body)
                line = body
            result.append(line)
        return "\n".join(result)

    def body(self, partial: Path, depth: int, seen: frozenset[Path]) -> str | None:
        """The partial's Markdown, its own partials in place, between blank lines; None to leave the tag."""
        if depth > MAX_DEPTH or partial in seen:
            return None
        if partial not in self.bodies:
            self.bodies[partial] = self._read(partial, depth, seen)
        markdown = self.bodies[partial]
        # Blank lines around it: the partial's first heading or list starts a block of its own, as on the page.
        return None if markdown is None else f"\n{PARTIAL_START}\n\n{markdown}\n\n{PARTIAL_END}\n"

    def _read(self, partial: Path, depth: int, seen: frozenset[Path]) -> str | None:
        try:
            text = partial.read_bytes().decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
            _, markdown = split_front_matter(text)
        except (OSError, UnicodeDecodeError, FrontMatterError):
            return None
        markdown = self.inline(markdown, partial, depth=depth, seen=seen).strip("\n")
        _, open_fence = _outside_code(markdown.split("\n"))
        if open_fence:  # Docusaurus ends a partial's code with the partial; so must the page
            markdown += "\n" + open_fence
        return markdown


def _resolve(imported: str, doc: Path) -> Path | None:
    if imported.startswith("@site/"):
        site = _site_root(doc.parent)
        return (site / imported.removeprefix("@site/")).resolve() if site is not None else None
    return (doc.parent / imported).resolve()


def _site_root(folder: Path) -> Path | None:
    """The folder of the Docusaurus site around `folder`: the nearest one that holds a docusaurus.config."""
    for candidate in (folder, *folder.parents):
        if find_config(candidate) is not None:
            return candidate
    return None


def _outside_code(lines: list[str]) -> tuple[list[bool], str | None]:
    """For each line, whether it is outside fenced code (a fence's own lines count as inside); and the fence
    left open at the end, if any."""
    flags, fence = [], None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match[1][0] * len(match[1])
            flags.append(False)
        elif fence is not None:
            if match and match[1][0] == fence[0] and len(match[1]) >= len(fence) and not line.strip()[len(match[1]):]:
                fence = None
            flags.append(False)
        else:
            flags.append(True)
    return flags, fence
