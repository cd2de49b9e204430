"""A page of a built Docusaurus site read into the same Page the docs folder gives.

The article is `.theme-doc-markdown`, else `<article>`, else `<main>`; navigation,
breadcrumbs, the table of contents, "Edit this page", pagination, heading
`.hash-link`s and copy buttons are dropped. Headings start sections and keep their
`id` as the anchor; a `<pre>` becomes a fenced block, whole.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Callable, Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from attrs import frozen

from lib.book.pages import Page, PageError, Section

_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"))
_SKIPPED_TAGS = frozenset(("script", "style", "noscript", "template", "svg", "button", "nav", "footer",
                           "iframe", "form", "input", "select", "textarea", "img"))
_SKIPPED_CLASSES = frozenset(("hash-link", "theme-doc-breadcrumbs", "breadcrumbs", "theme-edit-this-page",
                              "pagination-nav", "theme-doc-toc-mobile", "theme-doc-toc-desktop",
                              "table-of-contents", "theme-doc-footer", "theme-last-updated",
                              "theme-doc-version-banner", "theme-doc-version-badge",
                              "theme-doc-sidebar-container"))
# CSS-module class names carry a hash suffix (tocCollapsible_etCK)
_SKIPPED_CLASS_PREFIXES = ("tocCollapsible", "buttonGroup", "copyButton")
_BLOCK_TAGS = frozenset(("p", "div", "ul", "ol", "table", "thead", "tbody", "tfoot", "blockquote", "section",
                         "details", "summary", "dl", "dt", "dd", "figure", "figcaption", "header", "hr",
                         "article", "main", "aside"))
_ADMONITION_HEADINGS = ("admonitionHeading", "admonition-heading")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_LINE_BREAK = "\x00"
# Pages that list or point at docs rather than hold a book's text: by the class Docusaurus puts on <html>
# (theme-common's ThemeClassNames; `plugin-native` is the 404 page), or by an element of the page.
_NOT_BOOK_PAGES = {
    "docs-tags-list-page": "tag page", "docs-tags-doc-list-page": "tag page",
    "blog-tags-list-page": "tag page", "blog-tags-post-list-page": "tag page",
    "blog-authors-list-page": "author page", "blog-authors-posts-page": "author page",
    "blog-list-page": "blog listing page", "search-page-wrapper": "search page", "plugin-native": "404 page",
}
_GENERATED_INDEX_PREFIX = "generatedIndexPage"
_PLUGIN_ID = re.compile(r"plugin-id-([A-Za-z0-9_-]+)")


@frozen
class Skipped:
    """A page of the site that is no page of the book (a tag list, a generated category index, search, 404)."""

    url: str
    kind: str


class _Element:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Element | None):
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Element | str] = []
        self.parent = parent

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def walk(self) -> Iterator[_Element]:
        for child in self.children:
            if isinstance(child, _Element):
                yield child
                yield from child.walk()

    def find(self, matches: Callable[[_Element], bool]) -> _Element | None:
        return next((element for element in self.walk() if matches(element)), None)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", {}, None)
        self._current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {name: value or "" for name, value in attrs}, self._current)
        self._current.children.append(element)
        if tag not in _VOID:
            self._current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._current.children.append(_Element(tag, {name: value or "" for name, value in attrs}, self._current))

    def handle_endtag(self, tag: str) -> None:
        node = self._current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self._current = node.parent

    def handle_data(self, data: str) -> None:
        self._current.children.append(data)


def read_html(text: str, url: str) -> tuple[Page | PageError | Skipped, list[str]]:
    """(the Page, why there is none, or what kind of non-book page it is; every link of the page as an
    absolute URL without fragment)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    document = builder.root
    links = _links(document, url)
    kind = not_a_book_page(document)
    if kind is not None:
        return Skipped(url, kind), links
    article = (document.find(lambda element: "theme-doc-markdown" in element.classes)
               or document.find(lambda element: element.tag == "article")
               or document.find(lambda element: element.tag == "main"))
    if article is None:
        return PageError(url, "has no article, main or .theme-doc-markdown element to read"), links
    renderer = _Renderer()
    renderer.render(article)
    title = renderer.first_h1 or _document_title(document) or urlsplit(url).path or "/"
    sections = [Section(level, heading, anchor, "\n\n".join(blocks)) for level, heading, anchor, blocks in renderer.cut]
    sections[0] = Section(1, title, "", sections[0].text)
    page = Page(
        title=title,
        route=urlsplit(url).path or "/",
        source=url,
        sections=sections,
        unlisted=_is_noindex(document),
        sidebar_label=None,
        book=_docs_plugin_id(document),
    )
    return page, links


def _html_classes(document: _Element) -> list[str]:
    html = document.find(lambda element: element.tag == "html")
    return html.classes if html is not None else []


def not_a_book_page(document: _Element) -> str | None:
    """What kind of listing page this is (tag, generated category index, search, 404); None for a page of text."""
    kind = next((_NOT_BOOK_PAGES[name] for name in _html_classes(document) if name in _NOT_BOOK_PAGES), None)
    if kind is None and document.find(lambda element: any(name.startswith(_GENERATED_INDEX_PREFIX) for name in element.classes)):
        kind = "generated category index"
    return kind


def _docs_plugin_id(document: _Element) -> str | None:
    """The docs instance of a docs page (`<html class="plugin-docs plugin-id-guide">`); None for other pages."""
    classes = _html_classes(document)
    if "plugin-docs" not in classes:
        return None
    return next((match[1] for match in map(_PLUGIN_ID.fullmatch, classes) if match), None)


def _skipped(element: _Element) -> bool:
    if element.tag in _SKIPPED_TAGS or element.attrs.get("aria-hidden") == "true":
        return True
    return any(name in _SKIPPED_CLASSES or name.startswith(_SKIPPED_CLASS_PREFIXES) for name in element.classes)


class _Renderer:
    """Walks the article, cutting it into sections of text blocks at headings."""

    def __init__(self) -> None:
        # [level, heading, anchor, blocks]; the first holds what comes before any heading
        self.cut: list[list] = [[1, "", "", []]]
        self.first_h1: str | None = None
        self._inline: list[str] = []
        self._prefix = ""

    def render(self, element: _Element) -> None:
        self._children(element)
        self._flush()

    def _children(self, element: _Element) -> None:
        for child in element.children:
            if isinstance(child, str):
                self._inline.append(child)
            elif not _skipped(child):
                self._element(child)

    def _element(self, element: _Element) -> None:
        tag = element.tag
        if tag in _HEADINGS:
            self._heading(element, _HEADINGS[tag])
        elif tag == "pre":
            self._flush()
            self._add(_fenced(element))
        elif tag == "br":
            self._inline.append(_LINE_BREAK)
        elif tag == "li":
            self._flush()
            self._prefix = "- "
            self._children(element)
            self._flush()
        elif tag == "tr":
            self._flush()
            cells = [_inline_text(cell) for cell in element.children
                     if isinstance(cell, _Element) and cell.tag in ("td", "th")]
            self._add(" | ".join(cells))
        elif _admonition_kind(element):
            self._admonition(element, _admonition_kind(element))
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._children(element)
            self._flush()
        else:
            self._children(element)

    def _admonition(self, element: _Element, kind: str) -> None:
        """`Tip: Title` then the content, as the docs folder reads `:::tip Title`."""
        self._flush()
        heading = next((child for child in element.children if isinstance(child, _Element)
                        and any(name.startswith(_ADMONITION_HEADINGS) for name in child.classes)), None)
        title = _inline_text(heading) if heading is not None else ""
        label = kind.replace("-", " ").capitalize()
        self._add(f"{label}: {title}" if title and title.lower() != kind.lower() else f"{label}:")
        for child in element.children:
            if child is heading:
                continue
            if isinstance(child, str):
                self._inline.append(child)
            elif not _skipped(child):
                self._element(child)
        self._flush()

    def _heading(self, element: _Element, level: int) -> None:
        self._flush()
        text = _inline_text(element)
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
            if len(self.cut) == 1 and not self.cut[0][3]:
                return  # the page's own title: the top of the page, not a section
        # Early Docusaurus 2 put the id on an empty <a> inside the heading. A heading without one (every H1)
        # takes the anchor of the nearest heading above it that has one: a link opens at or above it.
        inner = element.find(lambda child: bool(child.attrs.get("id")))
        anchor = element.attrs.get("id") or (inner.attrs["id"] if inner is not None else "") or self.cut[-1][2]
        self.cut.append([level, text, anchor, []])

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._inline)).replace(_LINE_BREAK, "\n")
        text = "\n".join(line.strip() for line in text.split("\n")).strip()
        self._inline = []
        if text:
            self._add(self._prefix + text)
        self._prefix = ""

    def _add(self, block: str) -> None:
        if block:
            self.cut[-1][3].append(block)


def _admonition_kind(element: _Element) -> str | None:
    """`tip` for Docusaurus 3's `theme-admonition-tip` or Docusaurus 2's `admonition-tip`."""
    for name in element.classes:
        for prefix in ("theme-admonition-", "admonition-"):
            kind = name[len(prefix):] if name.startswith(prefix) else ""
            if kind and kind not in ("heading", "content", "icon"):
                return kind
    return None


def _inline_text(element: _Element) -> str:
    parts: list[str] = []

    def collect(node: _Element) -> None:
        for child in node.children:
            if isinstance(child, str):
                parts.append(child)
            elif not _skipped(child):
                collect(child)

    collect(element)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _fenced(pre: _Element) -> str:
    """A `<pre>` as a fenced block: Prism's lines (a span.token-line each, ended by <br>) rejoined."""
    parts: list[str] = []

    def collect(node: _Element) -> None:
        for child in node.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag == "br":
                parts.append("\n")
            elif not _skipped(child):
                if "token-line" in child.classes and parts and not parts[-1].endswith("\n"):
                    parts.append("\n")
                collect(child)

    collect(pre)
    code = "".join(parts).strip("\n")
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{_language(pre)}\n{code}\n{fence}"


def _language(pre: _Element) -> str:
    node: _Element | None = pre
    for _ in range(4):
        if node is None:
            break
        for name in node.classes:
            if name.startswith("language-"):
                return name[len("language-"):]
        node = node.parent
    return ""


def _document_title(document: _Element) -> str | None:
    title = document.find(lambda element: element.tag == "title")
    if title is None:
        return None
    text = _inline_text(title)
    # Docusaurus titles pages "Page | Site"
    return text.rsplit(" | ", 1)[0].strip() or None


def _is_noindex(document: _Element) -> bool:
    for element in document.walk():
        if element.tag == "meta" and element.attrs.get("name", "").lower() == "robots":
            if "noindex" in element.attrs.get("content", "").lower():
                return True
    return False


def _links(document: _Element, url: str) -> list[str]:
    links: list[str] = []
    for element in document.walk():
        href = element.attrs.get("href") if element.tag == "a" else None
        if href and not href.startswith(("mailto:", "javascript:", "tel:", "#")):
            links.append(urldefrag(urljoin(url, href)).url)
    return links
