"""lib/book/partials.py: a doc's MDX partials read where it uses them, and nothing else taken for one."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lib.book.pages import parse_page
from lib.book.partials import MAX_DEPTH, inline_partials
from tests.sitebuild import FIXTURE_SITE


def doc(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_the_fixtures_partial_is_a_section_of_the_page_that_uses_it():
    handbook = FIXTURE_SITE / "handbook"
    page = parse_page(handbook / "02-planting" / "04-frost.mdx", handbook, "/handbook")
    sections = [(section.heading, section.anchor) for section in page.sections]
    assert sections == [("Frost", ""), ("Protecting tender plants", "protecting-tender-plants"),
                        ("Frost warning signs", "frost-warning-signs"), ("After a frost", "after-a-frost")]
    assert "forecast below four degrees" in page.sections[2].text


def test_a_partial_s_front_matter_goes_and_its_own_partials_come(tmp_path):
    doc(tmp_path, "_inner.md", "Inner words.\n")
    doc(tmp_path, "shared/_outer.mdx", """\
        ---
        description: not shown on the page
        ---
        import Inner from '../_inner.md';

        Outer words.

        <Inner />
        """)
    page = doc(tmp_path, "page.mdx", "import Outer from './shared/_outer.mdx';\n\n# Page\n\n<Outer />\n")
    text = inline_partials(page.read_text(), page)
    assert "Outer words." in text and "Inner words." in text and "description" not in text


def test_code_examples_components_and_unreadable_partials_are_left_as_they_are(tmp_path):
    doc(tmp_path, "_note.md", "Noted.\n")
    page = doc(tmp_path, "page.mdx", """\
        import Note from './_note.md';
        import Tabs from '@theme/Tabs';
        import Gone from './_gone.md';

        ```mdx
        import Example from './_example.md';

        <Note />
        ```

        <Tabs />
        <Gone />
        <Note />
        """)
    text = inline_partials(page.read_text(), page)
    assert text.count("Noted.") == 1  # not inside the fence
    assert "<Tabs />" in text and "<Gone />" in text


def test_a_partial_that_uses_itself_stops_and_depth_is_bounded(tmp_path):
    doc(tmp_path, "_loop.md", "import Loop from './_loop.md';\n\nAgain.\n\n<Loop />\n")
    page = doc(tmp_path, "page.md", "import Loop from './_loop.md';\n\n<Loop />\n")
    assert inline_partials(page.read_text(), page).count("Again.") == 1
    for level in range(MAX_DEPTH + 2):
        doc(tmp_path, f"_level{level}.md", f"import Next from './_level{level + 1}.md';\n\nLevel {level}.\n\n<Next />\n")
    start = doc(tmp_path, "deep.md", "import Next from './_level0.md';\n\n<Next />\n")
    text = inline_partials(start.read_text(), start)
    assert f"Level {MAX_DEPTH - 1}." in text and f"Level {MAX_DEPTH}." not in text
