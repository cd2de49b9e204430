from pathlib import Path

import pytest

from lib.book.pages import (
    Page,
    PageError,
    Section,
    iter_book,
    parse_markdown,
    parse_page,
)

BOOK = Path(__file__).resolve().parents[2] / "fixtures" / "book"


def read_book() -> dict[str, Page | PageError]:
    return {item.source: item for item in iter_book(BOOK)}


def test_walks_the_book_in_path_order_skipping_drafts_and_partials():
    assert [item.source for item in iter_book(BOOK)] == [
        "01-basics/02-first-steps.mdx",
        "01-basics/03-ids.md",
        "01-basics/index.md",
        "02-advanced/README.md",
        "02-advanced/broken.md",
        "02-advanced/custom-slug.md",
        "02-advanced/hidden.md",
        "02-advanced/relative-slug.md",
        "intro.md",
    ]


def test_reports_broken_front_matter_naming_the_file_and_goes_on():
    error = read_book()["02-advanced/broken.md"]
    assert isinstance(error, PageError)
    assert str(error) == "02-advanced/broken.md: broken front matter: line 3: expected `key: value`, got 'this line is not yaml'"
    assert error.source == "02-advanced/broken.md"


def test_routes_follow_ids_slugs_folder_indexes_and_number_prefixes():
    routes = {source: page.route for source, page in read_book().items() if isinstance(page, Page)}
    assert routes == {
        "01-basics/02-first-steps.mdx": "/docs/basics/first-steps",
        "01-basics/03-ids.md": "/docs/basics/identity",
        "01-basics/index.md": "/docs/basics/",
        "02-advanced/README.md": "/docs/advanced/",
        "02-advanced/custom-slug.md": "/docs/reference/api",
        "02-advanced/hidden.md": "/docs/advanced/hidden",
        "02-advanced/relative-slug.md": "/docs/advanced/moved/here",
        "intro.md": "/docs/intro",
    }


def test_route_base_path_prefixes_every_route():
    pages = [page for page in iter_book(BOOK, route_base_path="/book") if isinstance(page, Page)]
    assert pages[0].route == "/book/basics/first-steps"
    assert pages[-1].route == "/book/intro"


def test_a_page_without_front_matter_takes_its_title_from_the_h1_and_splits_at_headings():
    page = read_book()["intro.md"]
    assert page == Page(
        title="Welcome to the Robot Book",
        route="/docs/intro",
        source="intro.md",
        sections=[
            Section(1, "Welcome to the Robot Book", "", "This book teaches you to build robots."),
            Section(
                2,
                "Getting started",
                "getting-started",
                'Install the toolkit first.\n\n```bash title="install.sh"\n# not a heading\npip install robot-kit\n```',
            ),
            Section(
                2,
                "Getting started",
                "getting-started-1",
                "The second time the heading appears it gets a numbered anchor.\n\n~~~\n## still code\n~~~",
            ),
            Section(2, "Custom anchor", "my-anchor", "Explicit ids win over generated ones."),
            Section(3, "The fast way to build", "the-fast-way-to-build", "Use [the builder](/docs/basics/) with care."),
        ],
        unlisted=False,
        sidebar_label=None,
    )


def test_an_mdx_page_keeps_what_readers_see():
    page = read_book()["01-basics/02-first-steps.mdx"]
    assert page.title == "First steps: wiring"
    assert page.sections == [
        Section(1, "First steps: wiring", "", "Wire the motors before anything else."),
        Section(2, "Choose a package manager", "choose-a-package-manager", "Run pip to install.\n\nRun conda to install."),
        Section(
            2,
            "Safety",
            "safety",
            "Tip: Remember this\n"
            "Always disconnect the battery first.\n"
            "\n"
            "Note:\n"
            "\n"
            "Fuses protect the board.\n"
            "\n"
            '```mdx title="example.mdx"\n'
            "## fake heading\n"
            "<Tabs>kept as code</Tabs>\n"
            "```",
        ),
    ]


def test_front_matter_id_renames_the_route_and_the_h1_still_titles_the_page():
    page = read_book()["01-basics/03-ids.md"]
    assert (page.title, page.route) == ("Naming parts", "/docs/basics/identity")
    assert page.sections == [Section(1, "Naming parts", "", "Each part has an identity.")]


def test_front_matter_title_and_sidebar_label_are_kept():
    page = read_book()["01-basics/index.md"]
    assert (page.title, page.sidebar_label, page.unlisted) == ("Basics", "The basics", False)
    assert page.sections == [
        Section(1, "Basics", "", "The basics come first."),
        Section(2, "Parts", "parts", "Motors, sensors and a controller."),
    ]


def test_an_unlisted_page_is_read_and_flagged():
    page = read_book()["02-advanced/hidden.md"]
    assert (page.title, page.unlisted) == ("Secret tuning", True)


def test_a_page_that_starts_with_a_heading_has_an_empty_opening_section():
    page = read_book()["02-advanced/custom-slug.md"]
    assert page.sections == [
        Section(1, "API reference", "", ""),
        Section(2, "Endpoints", "endpoints", "The robot answers on port 8080."),
    ]


def test_a_draft_is_skipped():
    assert parse_page(BOOK / "02-advanced" / "draft.md", BOOK) is None


def test_without_a_title_or_h1_the_title_is_the_files_id():
    page = parse_markdown("Just text.", "guide/05-setup-notes.md")
    assert page.title == "setup-notes"
    assert page.sections == [Section(1, "setup-notes", "", "Just text.")]


def test_the_h1_anchor_counts_toward_duplicates():
    page = parse_markdown("# Setup\n\nIntro.\n\n## Setup\n\nAgain.", "setup.md")
    assert page.sections == [Section(1, "Setup", "", "Intro."), Section(2, "Setup", "setup-1", "Again.")]


def test_an_h1_after_text_is_a_section_that_opens_at_the_page_top():
    # Docusaurus gives no H1 an id: a link to "#later-title" would open nowhere.
    page = parse_markdown("Opening words.\n\n# Later title\n\nBody.", "late.md")
    assert page.title == "Later title"
    assert page.sections == [
        Section(1, "Later title", "", "Opening words."),
        Section(1, "Later title", "", "Body."),
    ]


def test_an_h1_below_a_heading_opens_at_that_heading():
    page = parse_markdown("# Title\n\n## Setup\n\nOne.\n\nKeys\n====\n\nTwo.\n\n## Keys\n\nThree.", "keys.md")
    assert [(section.heading, section.anchor) for section in page.sections] == [
        ("Title", ""), ("Setup", "setup"), ("Keys", "setup"), ("Keys", "keys-1"),
    ]


def test_setext_headings_are_headings():
    page = parse_markdown("Title\n=====\n\nIntro.\n\nPart two\n---\n\nBody.\n\n---\n\nAfter a rule.", "s.md")
    assert page.title == "Title"
    assert page.sections == [
        Section(1, "Title", "", "Intro."),
        Section(2, "Part two", "part-two", "Body.\n\n---\n\nAfter a rule."),
    ]


def test_list_indentation_survives_and_other_indentation_goes():
    page = parse_markdown("- one\n  - nested\n\n    indented text", "l.md")
    assert page.sections[0].text == "- one\n  - nested\n\nindented text"


def test_windows_line_endings_and_a_byte_order_mark_are_fine():
    page = parse_markdown("\ufeff---\r\ntitle: T\r\n---\r\n## A\r\ntext\r\n", "w.md")
    assert page.sections == [Section(1, "T", "", ""), Section(2, "A", "a", "text")]


def test_unclosed_front_matter_names_the_file():
    with pytest.raises(PageError, match=r"^guide/x.md: broken front matter: front matter opened with --- on line 1 is never closed$"):
        parse_markdown("---\ntitle: x\n\nBody", "guide/x.md")


def test_an_id_with_a_slash_is_a_page_error():
    with pytest.raises(PageError, match="^a.md: id 'x/y' can't contain a slash$"):
        parse_markdown("---\nid: x/y\n---\n", "a.md")


def test_invalid_utf8_and_unreadable_files_are_yielded_as_errors(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nFine.", encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("# Caf\xe9".encode("latin-1"))
    (tmp_path / "gone.md").symlink_to(tmp_path / "missing.md")
    (tmp_path / ".hidden.md").write_text("# Hidden", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a doc", encoding="utf-8")
    results = list(iter_book(tmp_path))
    assert [type(item).__name__ for item in results] == ["PageError", "Page", "PageError"]
    assert str(results[0]) == "gone.md: can't be read: No such file or directory"
    assert results[1].title == "Good"
    assert str(results[2]) == "latin1.md: is not valid UTF-8 (bad byte at offset 5)"


def test_a_missing_book_folder_is_an_error_of_the_caller(tmp_path):
    with pytest.raises(FileNotFoundError, match="no docs folder"):
        list(iter_book(tmp_path / "nowhere"))
