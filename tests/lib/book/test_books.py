"""lib/book/books.py: a site root, a docs folder or a live site read into pages, each with its book and address."""

from __future__ import annotations

from collections import Counter

import pytest
import responses

from lib.book.books import NoPages, read_source
from lib.book.pages import Page
from lib.book.site import Overrides
from tests.lib.book.test_crawl import HTML, SITE, sitemap
from tests.sitebuild import FIXTURE_SITE


def test_a_site_root_gives_every_doc_of_each_book_and_says_what_it_left_out():
    said: list[str] = []
    pages = list(read_source(str(FIXTURE_SITE), report=said.append))
    assert all(isinstance(page, Page) for page in pages)
    assert Counter(page.book for page in pages) == {"default": 14, "guide": 9}
    sources = {page.source for page in pages}
    left_out = {"handbook/winter-plans.md", "handbook/secret-orchard.md", "handbook/03-compost/bins.wip.md",
                "handbook/03-compost/archive/old-rota.md", "handbook/_partials/committee.md", "guide-docs/tools/_sharpening.md"}
    assert "guide-docs/tools/Wheel Barrows.md" in sources and not left_out & sources
    assert said == [
        f"book 'default': 14 docs from {FIXTURE_SITE / 'handbook'}, 1 unlisted left out, served at https://example.org/base/handbook",
        f"book 'guide': 9 docs from {FIXTURE_SITE / 'guide-docs'}, served at https://example.org/base/guide",
    ]


def test_a_docs_folder_of_the_site_is_named_from_the_site_root_and_served_where_the_site_serves_it():
    pages = {page.source: page for page in read_source(str(FIXTURE_SITE / "guide-docs"))}
    page = pages["guide-docs/02-borrowing/02-late-returns.md"]
    assert (page.book, page.route, page.url) == ("guide", "/guide/custom/place", "https://example.org/base/guide/custom/place")


def test_values_given_by_hand_replace_the_configs():
    given = Overrides(site_url="http://localhost:3000", base_url="/", trailing_slash="true")
    page = next(page for page in read_source(str(FIXTURE_SITE), given) if page.source == "handbook/04-beds/index.md")
    assert page.url == "http://localhost:3000/handbook/beds/"


def test_a_folder_with_no_doc_is_no_pages_and_says_why(tmp_path):
    (tmp_path / "_draft.md").write_text("# Not built\n")
    (tmp_path / "draft.md").write_text("---\ndraft: true\n---\n# Not built\n")
    with pytest.raises(NoPages, match=r"no pages found: no \.md or \.mdx doc that Docusaurus would build"):
        list(read_source(str(tmp_path)))


def test_a_source_that_is_neither_a_folder_nor_a_url_is_no_pages(tmp_path):
    with pytest.raises(NoPages, match="is neither a folder nor an http"):
        list(read_source(str(tmp_path / "nowhere")))


def test_a_live_site_whose_pages_all_fail_or_are_left_out_is_no_pages():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as site:
        site.add(responses.GET, SITE + "/robots.txt", status=404)
        site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/tags", SITE + "/docs/gone"))
        site.add(responses.GET, SITE + "/docs/tags", content_type=HTML,
                 body='<html class="plugin-docs plugin-id-default docs-tags-list-page"><main><h1>Tags</h1></main></html>')
        site.add(responses.GET, SITE + "/docs/gone", status=404)
        results = []
        with pytest.raises(NoPages, match=r"https://book.example: no pages found; 1 failed, as reported above: is it a Docusaurus site"):
            for item in read_source(SITE):
                results.append(item)
    assert [str(item) for item in results] == ["https://book.example/docs/gone: HTTP 404"]
