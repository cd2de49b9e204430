from pathlib import Path

import pytest

from lib.book.html_page import Skipped, read_html
from lib.book.pages import Page, PageError, Section

SITE = Path(__file__).resolve().parents[2] / "fixtures" / "site"
URL = "https://book.example/docs/basics/first-steps"


def parse_html(text: str, url: str) -> Page:
    """The Page read_html finds at `url`; raises PageError when there is none."""
    page, _ = read_html(text, url)
    if isinstance(page, Skipped):
        raise PageError(url, f"is a {page.kind}, not a page of the book")
    if isinstance(page, PageError):
        raise page
    return page


def test_reads_the_article_of_a_docusaurus_page_into_sections_with_its_anchors():
    page = parse_html((SITE / "first-steps.html").read_text(encoding="utf-8"), URL)
    assert page == Page(
        title="First steps: wiring",
        route="/docs/basics/first-steps",
        source=URL,
        sections=[
            Section(1, "First steps: wiring", "", "Wire the motors new before anything else."),
            Section(
                2,
                "Choose a package manager",
                "choose-a-package-manager",
                "- pip\n\n- conda\n\nRun pip to install.\n\nRun conda to install.",
            ),
            Section(
                2,
                "Safety",
                "safety",
                "Tip: Remember this\n\n"
                "Always disconnect the battery first.\n\n"
                "wire.py\n\n"
                '```python\n# not a heading\nmotor.connect("A < B")\n    indented\n```',
            ),
            Section(3, "Fuses F1 and F2", "fuses", "- Fuse one\n\n- Fuse two\non two lines\n\nFuse | Amps\n\nF1 | 5"),
        ],
        unlisted=False,
        sidebar_label=None,
        book="default",  # <html class="plugin-docs plugin-id-default">
    )


def test_lists_every_link_of_the_page_without_fragments():
    _, links = read_html((SITE / "first-steps.html").read_text(encoding="utf-8"), URL)
    assert links == [
        "https://book.example/",
        "https://book.example/docs/intro",
        "https://github.com/example/robots",
        "https://book.example/docs/intro",
        "https://book.example/docs/basics/first-steps",
        "https://book.example/",
        "https://github.com/example/robots/edit/main/docs/basics/first-steps.mdx",
        "https://book.example/docs/basics/",
        "https://book.example/docs/basics/identity",
    ]


def test_without_the_markdown_container_the_article_is_read():
    html = (
        "<html><head><title>Old page | Book</title></head><body><nav>Menu</nav>"
        "<article><h2 id='a'>A</h2><p>Alpha.</p><footer>Edit this page</footer></article></body></html>"
    )
    page = parse_html(html, "https://book.example/docs/old")
    assert page.title == "Old page"
    assert page.sections == [Section(1, "Old page", "", ""), Section(2, "A", "a", "Alpha.")]


def test_without_an_article_main_is_read():
    page = parse_html("<main><h1>Home</h1><p>Welcome.</p></main>", "https://book.example/")
    assert (page.title, page.route, page.sections) == ("Home", "/", [Section(1, "Home", "", "Welcome.")])


def test_a_page_with_nothing_to_read_is_an_error_naming_the_url():
    with pytest.raises(PageError, match=r"^https://book.example/x: has no article"):
        parse_html("<html><body><div>Nothing</div></body></html>", "https://book.example/x")


def test_a_noindex_page_is_unlisted():
    html = '<head><meta name="robots" content="noindex, nofollow"></head><article><h1>Secret</h1><p>s</p></article>'
    assert parse_html(html, "https://book.example/docs/secret").unlisted is True


def test_docusaurus_2_admonitions_read_like_docusaurus_3_ones():
    html = (
        '<article><div class="markdown"><h1>T</h1>'
        '<div class="admonition admonition-note alert alert--secondary"><div class="admonition-heading">'
        '<h5><span class="admonition-icon"><svg></svg></span>note</h5></div>'
        '<div class="admonition-content"><p>Body.</p></div></div>'
        '<h2 id="x">X</h2><p>y</p></div></article>'
    )
    assert parse_html(html, "https://book.example/docs/t").sections == [
        Section(1, "T", "", "Note:\n\nBody."),
        Section(2, "X", "x", "y"),
    ]


def test_code_keeps_a_longer_fence_when_it_holds_one():
    html = '<article><pre class="language-md"><code>```js\nx\n```</code></pre></article>'
    assert parse_html(html, "https://book.example/docs/t").sections[0].text == "````md\n```js\nx\n```\n````"


def test_an_id_on_an_anchor_inside_the_heading_is_the_anchor():
    html = (
        '<article><h2><a aria-hidden="true" class="anchor enhancedAnchor_2LWZ" id="old-style"></a>Old style'
        '<a class="hash-link" href="#old-style" title="Direct link to heading">#</a></h2><p>Text.</p></article>'
    )
    assert parse_html(html, "https://book.example/docs/t").sections[1] == Section(2, "Old style", "old-style", "Text.")


def test_a_heading_without_an_id_has_no_anchor():
    html = "<article><h1>T</h1><h2>Raw</h2><p>Text.</p></article>"
    assert parse_html(html, "https://book.example/docs/t").sections[1] == Section(2, "Raw", "", "Text.")
