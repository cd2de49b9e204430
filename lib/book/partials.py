"""MDX partials put back where a doc uses them, as Docusaurus renders them: `import Note from './_note.md'`
and a line `<Note />` become the partial's Markdown, so that what the reader sees on the page is searched.

Only a local Markdown file imported by a relative path counts, used as a self-closing tag on a line of its
own; a partial may use partials of its own, up to MAX_DEPTH deep, and never itself. Nothing inside fenced
code is read: a code example that shows an import stays an example. A partial that can't be read leaves the
tag, which lib.book.mdx then drops, as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from lib.book.front_matter import FrontMatterError, split_front_matter

MAX_DEPTH = 5
_IMPORT = re.compile(r"""import\s+(?P<name>[A-Z][\w$]*)\s+from\s+['"](?P<path>\.{1,2}/[^'"]+\.mdx?)['"]\s*;?\s*""")
_USE = re.compile(r"[ \t]*<(?P<name>[A-Z][\w$]*)(?:\s[^<>]*)?/>\s*")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")


def inline_partials(text: str, path: Path, *, depth: int = 0, seen: frozenset[Path] = frozenset()) -> str:
    """The doc's text (front matter and all) with each partial it uses in place of its tag."""
    lines = text.split("\n")
    outside = _outside_fences(lines)
    imported = {}
    for line, readable in zip(lines, outside):
        match = _IMPORT.fullmatch(line) if readable else None
        if match:
            imported[match["name"]] = (path.parent / match["path"]).resolve()
    if not imported:
        return text
    result = []
    for line, readable in zip(lines, outside):
        use = _USE.fullmatch(line) if readable else None
        partial = imported.get(use["name"]) if use else None
        body = _body(partial, depth, seen | {path.resolve()}) if partial is not None else None
        result.append(line if body is None else body)
    return "\n".join(result)


def _body(partial: Path, depth: int, seen: frozenset[Path]) -> str | None:
    if depth >= MAX_DEPTH or partial in seen:
        return None
    try:
        text = partial.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        _, body = split_front_matter(text.removeprefix("\ufeff"))
    except (OSError, UnicodeDecodeError, FrontMatterError):
        return None
    # Blank lines around it: the partial's first heading or list starts a block of its own, as on the page.
    return "\n" + inline_partials(body, partial, depth=depth + 1, seen=seen).strip("\n") + "\n"


def _outside_fences(lines: list[str]) -> list[bool]:
    """For each line, whether it is outside fenced code (a fence's own lines count as inside)."""
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
    return flags
