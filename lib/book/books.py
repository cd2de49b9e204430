"""A source of a book read into pages, each with its book's id and its address as the site serves it:
a Docusaurus site's root folder (every docs instance), one docs folder, or a live site by its address."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator

import attrs

from lib.book.crawl import crawl_site
from lib.book.pages import Page, PageError, iter_book
from lib.book.site import Book, Overrides, books_at


class NoPages(ValueError):
    """Raised when a source gives no page at all: nothing is indexed from it, and nothing removed."""


def read_source(source: str, overrides: Overrides = Overrides(), report: Callable[[str], None] = lambda message: None) -> Iterator[Page | PageError]:
    """Every page of the source, or a PageError for each file or URL that failed; NoPages when none was found.

    Raises lib.book.site.SiteError when the site's config can't say where its docs are served.
    """
    if source.startswith(("http://", "https://")):
        items: Iterable[Page | PageError] = crawl_site(source, site_url=overrides.site_url)
        hint = "is it a Docusaurus site, and does its sitemap.xml list its pages?"
    elif Path(source).is_dir():
        books = books_at(Path(source), overrides, report)
        items = read_books(books, report)
        hint = "no .md or .mdx doc that Docusaurus would build (drafts and unlisted docs are left out)"
    else:
        raise NoPages(f"{source}: is neither a folder nor an http(s) URL")
    found = failed = 0
    for item in items:
        if isinstance(item, Page):
            found += 1
        else:
            failed += 1
        yield item
    if not found:
        failures = f"; {failed} failed, as reported above" if failed else ""
        raise NoPages(f"{source}: no pages found{failures}: {hint}")


def read_books(books: Iterable[Book], report: Callable[[str], None] = lambda message: None) -> Iterator[Page | PageError]:
    """The docs of each book, each with its address and its book's id, named by its path from the site's root."""
    for book in books:
        prefix = _prefix(book)
        docs = unlisted = 0
        for item in iter_book(book.folder, book.route_base_path, include=book.include, exclude=book.exclude,
                              number_prefixes=book.number_prefixes):
            if isinstance(item, PageError):
                yield PageError(prefix + item.source, item.reason)
                continue
            if item.unlisted:
                unlisted += 1  # built, but kept from search, sidebars and the sitemap: and from answers
                continue
            docs += 1
            yield attrs.evolve(item, source=prefix + item.source, url=book.links.page(item.route), book=book.id)
        left_out = f", {unlisted} unlisted left out" if unlisted else ""
        report(f"book {book.id!r}: {docs} docs from {book.folder}{left_out}, served at {book.links.page(book.route_base_path)}")


def _prefix(book: Book) -> str:
    """How the book's docs are named: `handbook/` + their path in the folder, from the site's root."""
    if book.names_from is None or book.names_from == book.folder or not book.folder.is_relative_to(book.names_from):
        return ""
    return book.folder.relative_to(book.names_from).as_posix() + "/"
