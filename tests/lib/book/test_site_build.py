"""Every address the ingester gives for the fixture site exists in the real `docusaurus build` of it.

The fixture (tests/fixtures/docusaurus) is built with Docusaurus itself (tests/sitebuild.py, Node 20 and
npm; node_modules cached outside the repository), once per config and session. Each chunk's url must name
a page the static build serves (a file at that path) and its anchor an element id of that page; and every
doc page the build holds must be indexed, but the unlisted one.

Two configs are built by default: `trailingSlash: false` and `true`. Unset writes the same files with the
same ids as `true` (checked when the fixture was made, and again here with BOOKBOT_SITE_BUILDS=all), and
the ingester gives it the same addresses as `true` (test_unset_links_like_true below), so a third build
would check the same addresses against the same files for another 20 to 45 seconds.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from lib.book.books import read_books
from lib.book.chunking import chunk_page
from lib.book.pages import Page
from lib.book.site import Book, Site, books_at
from tests.sitebuild import CONFIGS, FIXTURE_SITE, TESTED, built, cached_build, read_manifest, versioned_site

BUILT = list(TESTED)
_HTML_CLASS = re.compile(r'<html[^>]*\bclass="([^"]*)"')


@pytest.fixture(scope="session")
def builds():
    """name -> (manifest, build folder), each config read at most once per session (built once per machine)."""
    read: dict = {}

    def get(name: str):
        if name not in read:
            folder = built(name)
            read[name] = (read_manifest(folder), folder)
        return read[name]

    return get


def emitted(config_name: str) -> dict[str, list[str]]:
    """Each url the ingester gives for the fixture under this config, with the chunks' sources."""
    return urls_of(Site(FIXTURE_SITE / CONFIGS[config_name]).books())


def urls_of(books: list[Book]) -> dict[str, list[str]]:
    """Each url the ingester gives for these books, with the chunks' sources."""
    urls: dict[str, list[str]] = {}
    for item in read_books(books, lambda message: None):
        assert isinstance(item, Page), f"the fixture has no broken doc, got {item}"
        for chunk in chunk_page(item):
            urls.setdefault(chunk.url, []).append(chunk.source)
    return urls


def unbuilt(urls, manifest: dict) -> list[str]:
    """The urls that name no page of the build, or no element id of their page."""
    pages = {_decoded(path): page for path, page in manifest["pages"].items()}
    missing = []
    for url in urls:
        parts = urlsplit(url)
        page = pages.get(_decoded(parts.path))
        if page is None or (parts.fragment and unquote(parts.fragment) not in page["ids"]):
            missing.append(url)
    return missing


def _decoded(path: str) -> str:
    return unquote(path)


@pytest.mark.parametrize("name", BUILT)
def test_every_emitted_url_is_a_built_page_and_every_anchor_an_id_of_it(builds, name):
    manifest, _ = builds(name)
    urls = emitted(name)
    assert {f"{parts.scheme}://{parts.netloc}" for parts in map(urlsplit, urls)} == {"https://example.org"}
    missing = unbuilt(urls, manifest)
    assert not missing, f"{len(missing)} of {len(urls)} urls name no built page, or no id of it: {[(url, urls[url][0]) for url in missing]}"
    assert len(urls) > 60  # every section of 23 docs


@pytest.mark.parametrize("name", BUILT)
def test_every_built_doc_but_the_unlisted_one_is_indexed(builds, name):
    manifest, folder = builds(name)
    doc_pages = set()
    for path, page in manifest["pages"].items():
        html = (folder / page["file"]).read_text(encoding="utf-8")
        classes = _HTML_CLASS.search(html)[1].split()
        if "docs-doc-page" in classes and "generatedIndexPage" not in html and not page["noindex"]:
            doc_pages.add(_decoded(path))
    indexed = {_decoded(urlsplit(url).path) for url in emitted(name)}
    assert indexed == doc_pages
    assert len(doc_pages) == 23


@pytest.mark.skipif("trailing-unset" in BUILT, reason="the unset build itself is checked")
def test_unset_links_like_true():
    assert emitted("trailing-unset").keys() == emitted("trailing-true").keys()


def test_with_trailing_slash_false_index_pages_have_no_slash_and_true_gives_one():
    false, true = emitted("trailing-false"), emitted("trailing-true")
    assert "https://example.org/base/handbook/beds#bed-widths" in false
    assert "https://example.org/base/handbook#who-we-are" in false
    assert "https://example.org/base/handbook/beds/#bed-widths" in true
    assert "https://example.org/base/guide/tools/Wheel%20Barrows/#tyre-pressure" in true
    assert not [url for url in false if urlsplit(url).path.endswith("/")]
    assert not [url for url in true if not urlsplit(url).path.endswith("/")]


@pytest.fixture(scope="session")
def versioned(tmp_path_factory):
    """The fixture with a released guide (tests.sitebuild.versioned_site), and the manifest of its real build."""
    site = versioned_site(tmp_path_factory.mktemp("versioned") / "site")
    return site, read_manifest(cached_build("versioned", CONFIGS["trailing-false"], site))


def test_a_versioned_book_is_its_latest_release_and_its_docs_folder_the_next_version_both_as_built(versioned):
    site, manifest = versioned
    [guide] = [book for book in Site(site / CONFIGS["trailing-false"]).books() if book.id == "guide"]
    released = urls_of([guide])
    unreleased = urls_of(books_at(site / "guide-docs"))
    assert guide.folder == (site / "guide_versioned_docs" / "version-1.0").resolve()
    assert "https://example.org/base/guide/membership#only-in-release-one" in released  # read from release 1.0
    assert not [url for url in released if "/next" in url]
    assert {urlsplit(url).path.split("/")[3] for url in unreleased} == {"next"}  # /base/guide/next...
    assert not [url for url in unreleased if "only-in-release-one" in url]
    assert not unbuilt(released, manifest) and not unbuilt(unreleased, manifest)
    assert len(released) > 20 and len(unreleased) > 20
