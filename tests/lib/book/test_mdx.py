import pytest

from lib.book.mdx import Line, heading_text, parse_heading, to_markdown


def texts(body: str) -> list[str]:
    return [line.text for line in to_markdown(body)]


def test_drops_imports_and_exports_even_over_several_lines():
    body = (
        "import Tabs from '@theme/Tabs';\n"
        "import {\n"
        "  A,\n"
        "} from './a';\n"
        "\n"
        "export const meta = {\n"
        "  answer: 42,\n"
        "};\n"
        "\n"
        "Text."
    )
    assert texts(body) == ["", "", "Text."]


def test_an_import_right_before_a_heading_ends_at_the_heading():
    assert texts("import X from 'x';\n# Title\nText") == ["# Title", "Text"]


def test_keeps_text_inside_components_and_drops_the_tags():
    body = '<Tabs groupId="os">\n<TabItem value="a" label="pip">text</TabItem>\n</Tabs>'
    assert texts(body) == ["", "text", ""]


def test_drops_self_closing_components_and_tags_spread_over_lines():
    body = 'Before <Badge text="new" /> after.\n<Figure\n  src="x.png"\n  caption={a > b ? "yes" : "no"}\n/>\nEnd.'
    assert texts(body) == ["Before after.", "", "", "", "", "End."]


def test_drops_html_and_mdx_comments_even_over_several_lines():
    body = "a <!-- gone --> b\n<!--\nall\ngone -->c\n{/* gone */}d\n{/*\ngone\n*/}"
    assert texts(body) == ["a b", "", "", "c", "d", "", "", ""]


def test_leaves_inline_code_and_comparisons_alone():
    assert texts("Use `<Tabs>` when a < b.") == ["Use `<Tabs>` when a < b."]


def test_a_line_break_tag_reads_as_a_space():
    assert texts("one<br/>two") == ["one two"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (":::tip Remember this", "Tip: Remember this"),
        (":::warning[Careful now]", "Warning: Careful now"),
        (":::note", "Note:"),
        ("  :::danger **Hot** <Icon/>", "Danger: **Hot**"),
    ],
)
def test_admonitions_become_a_labelled_line(line, expected):
    assert texts(f"{line}\nBody.\n:::") == [expected, "Body.", ""]


def test_fenced_code_is_verbatim_and_marked_as_code():
    body = (
        "```python title=\"a.py\"\n"
        "# not a heading\n"
        "<Tabs>{/* kept */}</Tabs>\n"
        "```\n"
        "~~~~\n"
        "```\n"
        "~~~~\n"
        "after"
    )
    assert to_markdown(body) == [
        Line('```python title="a.py"', code=True),
        Line("# not a heading", code=True),
        Line("<Tabs>{/* kept */}</Tabs>", code=True),
        Line("```", code=True),
        Line("~~~~", code=True),
        Line("```", code=True),
        Line("~~~~", code=True),
        Line("after"),
    ]


def test_an_indented_fence_inside_a_component_loses_its_indentation():
    body = "<TabItem>\n  ```bash\n  pip install x\n    --upgrade\n  ```\n</TabItem>"
    assert to_markdown(body) == [
        Line(""),
        Line("```bash", code=True),
        Line("pip install x", code=True),
        Line("  --upgrade", code=True),
        Line("```", code=True),
        Line(""),
    ]


def test_an_mdx_code_block_is_read_as_mdx():
    body = "````mdx-code-block\n<Tabs>\n## Real heading\n```js\ncode()\n```\n</Tabs>\n````\nafter"
    assert to_markdown(body) == [
        Line(""),
        Line("## Real heading"),
        Line("```js", code=True),
        Line("code()", code=True),
        Line("```", code=True),
        Line(""),
        Line("after"),
    ]


def test_an_unclosed_fence_runs_to_the_end():
    assert to_markdown("```\n# code\n") == [Line("```", code=True), Line("# code", code=True), Line("", code=True)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# Title", (1, "Title")),
        ("###### Six", (6, "Six")),
        ("## Closed ##", (2, "Closed")),
        ("   ## Indented", (2, "Indented")),
        ("## C#", (2, "C#")),
        ("#", (1, "")),
        ("#Title", None),
        ("    ## Too far", None),
        ("####### Seven", None),
    ],
)
def test_recognises_atx_headings(line, expected):
    assert parse_heading(line) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Install {#setup}", ("Install", "setup")),
        ("The *fast* way to `build`", ("The fast way to build", None)),
        ("**Bold** and __strong__ and _em_ and ~~gone~~", ("Bold and strong and em and gone", None)),
        ("[Links](/x) and ![images](y.png)", ("Links and images", None)),
        ("snake_case_name stays", ("snake_case_name stays", None)),
        ("Fish &amp; chips \\*", ("Fish & chips *", None)),
        ("`a {#b}` code", ("a {#b} code", None)),
    ],
)
def test_heading_text_is_what_docusaurus_slugs(raw, expected):
    assert heading_text(raw) == expected
