"""A Docusaurus docs folder read as pages of sections, with the routes and anchors Docusaurus gives them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from attrs import frozen

from lib.book.doc_routes import doc_route
from lib.book.front_matter import FrontMatterError, split_front_matter
from lib.book.globs import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, select_files
from lib.book.mdx import Line, heading_text, parse_heading, to_markdown
from lib.book.partials import PARTIAL_END, PARTIAL_START, inline_partials
from lib.book.slugger import Slugger

DOC_EXTENSIONS = (".md", ".mdx")
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d{1,9}[.)])\s")


@frozen
class Section:
    """One heading and the text under it; the text before the first heading has level 1 and anchor ""."""

    level: int
    heading: str
    anchor: str
    text: str


@frozen
class Page:
    title: str
    route: str  # as Docusaurus names it, from the site's root, without baseUrl
    source: str
    sections: list[Section]
    unlisted: bool = False
    sidebar_label: str | None = None
    url: str = ""  # where the built site serves it (lib.book.links), percent-encoded; "" when not known
    book: str | None = None  # the id of the docs instance it belongs to


class PageError(Exception):
    """Raised when a page can't be read or parsed; the message names the file or URL."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def iter_book(
    root: Path,
    route_base_path: str = "/docs",
    *,
    include: tuple[str, ...] = DEFAULT_INCLUDE,
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
    number_prefixes: bool = True,
) -> Iterator[Page | PageError]:
    """Every doc of the folder in path order: the .md/.mdx files `include` matches and `exclude` does not
    (Docusaurus' defaults unless given); drafts are skipped, a bad file is yielded as a PageError."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no docs folder at {root}")
    paths, errors = _doc_files(root, include, exclude)
    yield from errors
    for path in paths:
        try:
            page = parse_page(path, root, route_base_path, number_prefixes=number_prefixes)
        except PageError as error:
            yield error
            continue
        if page is not None:
            yield page


def parse_page(path: Path, root: Path, route_base_path: str = "/docs", *, number_prefixes: bool = True) -> Page | None:
    """Parse one file of the docs folder at `root`; None for a draft."""
    source = Path(path).relative_to(root).as_posix()
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise PageError(source, f"is not valid UTF-8 (bad byte at offset {error.start})") from None
    except OSError as error:
        raise PageError(source, f"can't be read: {error.strerror or error}") from None
    return parse_markdown(text, source, route_base_path, number_prefixes=number_prefixes, path=Path(path))


def parse_markdown(
    text: str, source: str, route_base_path: str = "/docs", *, number_prefixes: bool = True, path: Path | None = None
) -> Page | None:
    """Parse the text of the doc at `source` (its path inside the docs folder); None for a draft. With the
    file's `path`, the Markdown partials it imports are read where it uses them (lib.book.partials)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        front_matter, body = split_front_matter(text)
    except FrontMatterError as error:
        raise PageError(source, f"broken front matter: {error}") from None
    if _flag(front_matter.get("draft")):
        return None
    if path is not None:
        body = inline_partials(body, path)
    try:
        route, doc_id = doc_route(source, front_matter, route_base_path, number_prefixes=number_prefixes)
    except ValueError as error:
        raise PageError(source, str(error)) from None
    sections, first_h1 = _sections(to_markdown(body))
    title = _text(front_matter.get("title")) or first_h1 or doc_id
    intro = sections[0]
    sections[0] = Section(level=1, heading=title, anchor="", text=intro.text)
    return Page(
        title=title,
        route=route,
        source=source,
        sections=sections,
        unlisted=_flag(front_matter.get("unlisted")),
        sidebar_label=_text(front_matter.get("sidebar_label")),
    )


def _sections(lines: list[Line]) -> tuple[list[Section], str | None]:
    """Cut the lines at headings; return the sections and the text of the first H1.

    Docusaurus renders no H1 with an id (its slug still counts toward duplicates), so an H1's section
    takes the anchor of the nearest heading above it that has one, or none: a link opens at or above it.
    """
    sluggers = [Slugger()]  # the page's, then one for each partial being read (lib.book.partials)
    # [level, heading, anchor, lines]; the first is the text before any heading
    cut: list[list[Any]] = [[1, "", "", []]]
    first_h1 = None
    for index, line in enumerate(lines):
        if not line.code and line.text in (PARTIAL_START, PARTIAL_END):
            if line.text == PARTIAL_START:
                sluggers.append(Slugger())
            elif len(sluggers) > 1:
                sluggers.pop()
            continue
        heading = None if line.code else parse_heading(line.text)
        underline = None if line.code else _setext_level(lines, index, cut[-1][3])
        if underline:
            heading = (underline, cut[-1][3].pop().text)
        if heading is None:
            cut[-1][3].append(line)
            continue
        level, raw = heading
        text, custom_id = heading_text(raw)
        anchor = custom_id if custom_id is not None else sluggers[-1].slug(text)
        if level == 1:
            anchor = cut[-1][2]
        if level == 1 and first_h1 is None:
            first_h1 = text
            if len(cut) == 1 and not any(kept.text.strip() for kept in cut[0][3]):
                # A page that opens with its H1: the H1 is the top of the page, not a section
                continue
        cut.append([level, text, anchor, []])
    sections = [Section(level, heading, anchor, _join(body)) for level, heading, anchor, body in cut]
    return sections, first_h1


def _setext_level(lines: list[Line], index: int, current: list[Line]) -> int | None:
    """2 or 1 when this line underlines a one-line paragraph (`Title` over `---` or `===`)."""
    marker = lines[index].text.strip()
    if not marker or set(marker) not in ({"="}, {"-"}) or len(lines[index].text) - len(lines[index].text.lstrip()) > 3:
        return None
    if not current or current[-1].code or not current[-1].text.strip():
        return None
    above = current[-1].text.lstrip()
    if above.startswith(("- ", "* ", "+ ", ">", "|")) or above[0].isdigit() and ". " in above[:6]:
        return None
    if len(current) > 1 and current[-2].text.strip() and not current[-2].code:
        return None
    return 1 if marker[0] == "=" else 2


def _join(lines: list[Line]) -> str:
    """The section's text; outside code, runs of blank lines become one and indentation goes.

    MDX has no indented code, so indentation (often from JSX nesting) means
    nothing, except that of list items, which nests them.
    """
    kept: list[str] = []
    for line in lines:
        if line.code:
            text = line.text
        elif _LIST_ITEM.match(line.text):
            text = line.text.rstrip()
        else:
            text = line.text.strip()
        if not line.code and not text and (not kept or not kept[-1]):
            continue
        kept.append(text)
    return "\n".join(kept).strip("\n")


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _doc_files(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> tuple[list[Path], list[PageError]]:
    """The .md/.mdx files Docusaurus reads as docs, sorted by path, and the folders that can't be read."""
    found, unreadable = select_files(root, include, exclude)
    errors = []
    for folder, error in unreadable:
        where = folder.relative_to(root).as_posix() if folder.is_relative_to(root) and folder != root else str(root)
        errors.append(PageError(where, f"folder can't be read: {error.strerror or error}"))
    return [path for path in found if path.name.endswith(DOC_EXTENSIONS)], errors
