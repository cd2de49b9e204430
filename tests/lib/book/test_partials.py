"""lib/book/partials.py: a doc's MDX partials read where it uses them, and nothing else taken for one."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lib.book.pages import parse_page
from lib.book.partials import MAX_CHARACTERS, MAX_DEPTH, inline_partials
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


def test_the_toc_import_form_and_site_paths_are_partials_too(tmp_path):
    (tmp_path / "docusaurus.config.js").write_text("module.exports = {};\n")
    doc(tmp_path, "shared/_install.md", "Install words.\n")
    doc(tmp_path, "docs/_note.md", "Note words.\n")
    page = doc(tmp_path, "docs/page.mdx", """\
        import Note, {toc as NoteTOC} from './_note.md';
        import Install from '@site/shared/_install.md';

        <Note />

        <Install />
        """)
    text = inline_partials(page.read_text(), page)
    assert "Note words." in text and "Install words." in text


def test_front_matter_is_never_read_for_tags_and_a_byte_order_mark_hides_no_import(tmp_path):
    doc(tmp_path, "_note.md", "Noted.\n")
    page = doc(tmp_path, "page.mdx", "---\ndescription: |\n  <Note />\n---\nimport Note from './_note.md';\n\n# Page\n")
    assert not [section for section in parse_page(page, tmp_path).sections if "Noted." in section.text]
    (tmp_path / "bom.mdx").write_text("\ufeffimport Note from './_note.md';\n\n# Page\n\n<Note />\n")
    parsed = parse_page(tmp_path / "bom.mdx", tmp_path)
    assert "Noted." in parsed.sections[0].text


def test_a_partial_that_leaves_its_code_open_does_not_take_the_page_after_it(tmp_path):
    doc(tmp_path, "_code.md", "```js\nconst a = 1;\n")
    page = doc(tmp_path, "page.mdx", "import Code from './_code.md';\n\n# Page\n\n<Code />\n\n## After\n\nWords after.\n")
    parsed = parse_page(page, tmp_path)
    assert [section.heading for section in parsed.sections] == ["Page", "After"]
    assert "const a = 1;" in parsed.sections[0].text and parsed.sections[1].text == "Words after."


def test_a_partial_used_everywhere_grows_a_page_to_a_bound_and_no_further(tmp_path):
    doc(tmp_path, "_leaf.md", "x" * 1000 + "\n")
    for level in range(4):  # each level uses the one below it twelve times: 12**4 leaves, were nothing bounded
        uses = "\n\n".join(["<Below />"] * 12)
        below = "_leaf.md" if level == 0 else f"_level{level - 1}.md"
        doc(tmp_path, f"_level{level}.md", f"import Below from './{below}';\n\n{uses}\n")
    page = doc(tmp_path, "page.md", "import Top from './_level3.md';\n\n<Top />\n")
    text = inline_partials(page.read_text(), page)  # 20 MB, were nothing bounded
    assert MAX_CHARACTERS / 2 < len(text) <= MAX_CHARACTERS


def test_a_partial_s_headings_get_their_ids_apart_from_the_page_s_as_docusaurus_gives_them(tmp_path):
    doc(tmp_path, "_notes.md", "## Notes\n\nPartial notes.\n")
    page = doc(tmp_path, "page.mdx", """\
        import Notes from './_notes.md';

        # Page

        <Notes />

        ## Notes

        Page notes.

        <Notes />
        """)
    parsed = parse_page(page, tmp_path)
    assert [(section.heading, section.anchor) for section in parsed.sections[1:]] == [("Notes", "notes")] * 3
    assert not [section for section in parsed.sections if "\ue000" in section.text]
