import hashlib
from pathlib import Path

import attrs
import pytest

from lib.book.chunking import Chunk, chunk_page, count_tokens, split_text
from lib.book.pages import Page, Section, iter_book, parse_page

BOOK = Path(__file__).resolve().parents[2] / "fixtures" / "book"

LONG_SECTION = (
    "Motors turn the wheels. Sensors read the floor. The controller decides where to go.\n\n"
    "Batteries store energy for the motors. Charge them before every run.\n\n"
    "```python\nrobot.forward(10)\nrobot.turn(90)\n```\n\n"
    "Test on a flat floor first."
)


def page_with(*sections: Section) -> Page:
    return Page(title="Robots", route="/docs/robots", source="robots.md", sections=list(sections))


def test_each_section_is_its_own_chunk_under_its_own_anchor():
    page = parse_page(BOOK / "intro.md", BOOK)
    common = {"title": "Welcome to the Robot Book", "source": "intro.md"}
    assert chunk_page(page) == [
        Chunk(text="This book teaches you to build robots.", headings=(), section="Welcome to the Robot Book",
              url="/docs/intro", position=0, **common),
        Chunk(text='Install the toolkit first.\n\n```bash title="install.sh"\n# not a heading\npip install robot-kit\n```',
              headings=("Getting started",), section="Getting started", url="/docs/intro#getting-started",
              position=1, **common),
        Chunk(text="The second time the heading appears it gets a numbered anchor.\n\n~~~\n## still code\n~~~",
              headings=("Getting started",), section="Getting started", url="/docs/intro#getting-started-1",
              position=2, **common),
        Chunk(text="Explicit ids win over generated ones.", headings=("Custom anchor",), section="Custom anchor",
              url="/docs/intro#my-anchor", position=3, **common),
        Chunk(text="Use [the builder](/docs/basics/) with care.", headings=("Custom anchor", "The fast way to build"),
              section="The fast way to build", url="/docs/intro#the-fast-way-to-build", position=4, **common),
    ]


def test_a_folder_index_page_links_to_its_folder_route():
    page = parse_page(BOOK / "01-basics" / "index.md", BOOK)
    assert [(chunk.url, chunk.text) for chunk in chunk_page(page)] == [
        ("/docs/basics/", "The basics come first."),
        ("/docs/basics/#parts", "Motors, sensors and a controller."),
    ]


def test_an_empty_section_gives_no_chunk_and_positions_stay_sequential():
    page = parse_page(BOOK / "02-advanced" / "custom-slug.md", BOOK)
    assert [(chunk.position, chunk.url, chunk.section) for chunk in chunk_page(page)] == [
        (0, "/docs/reference/api#endpoints", "Endpoints"),
    ]


def test_tiny_sections_are_not_merged():
    page = page_with(Section(1, "Robots", "", "A."), Section(2, "B", "b", "B."), Section(2, "C", "c", "C."))
    assert [(chunk.text, chunk.url) for chunk in chunk_page(page)] == [
        ("A.", "/docs/robots"), ("B.", "/docs/robots#b"), ("C.", "/docs/robots#c"),
    ]


def test_heading_paths_follow_the_nesting():
    page = page_with(
        Section(1, "Robots", "", ""),
        Section(2, "Build", "build", "b"),
        Section(3, "Frame", "frame", "f"),
        Section(4, "Bolts", "bolts", "x"),
        Section(3, "Wiring", "wiring", "w"),
        Section(2, "Drive", "drive", "d"),
        Section(4, "Deep", "deep", "e"),
    )
    assert [chunk.headings for chunk in chunk_page(page)] == [
        ("Build",),
        ("Build", "Frame"),
        ("Build", "Frame", "Bolts"),
        ("Build", "Wiring"),
        ("Drive",),
        ("Drive", "Deep"),
    ]


def test_a_long_section_splits_at_paragraphs_sharing_about_overlap_tokens():
    page = page_with(Section(1, "Robots", "", ""), Section(2, "Power", "power", LONG_SECTION))
    chunks = chunk_page(page, chunk_size=20, overlap=5)
    assert [chunk.text for chunk in chunks] == [
        "Motors turn the wheels. Sensors read the floor. The controller decides where to go.",
        "decides where to go.\n\nBatteries store energy for the motors. Charge them before every run.",
        "```python\nrobot.forward(10)\nrobot.turn(90)\n```",
        "Test on a flat floor first.",
    ]
    assert [chunk.position for chunk in chunks] == [0, 1, 2, 3]
    assert {chunk.url for chunk in chunks} == {"/docs/robots#power"}
    assert count_tokens("decides where to go.") == 5


def test_a_paragraph_too_long_splits_at_sentences():
    text = " ".join(f"Step {number} tightens bolt {number}." for number in range(1, 5))
    assert split_text(text, chunk_size=20, overlap=5) == [
        "Step 1 tightens bolt 1. Step 2 tightens bolt 2.",
        "tightens bolt 2. Step 3 tightens bolt 3.",
        "tightens bolt 3. Step 4 tightens bolt 4.",
    ]


def test_a_sentence_too_long_splits_at_words():
    text = " ".join(f"servo{number}" for number in range(12))
    assert split_text(text, chunk_size=10, overlap=3) == [
        "servo0 servo1 servo2 servo3 servo4",
        "servo4 servo5 servo6 servo7 servo8",
        "servo8 servo9 servo10 servo11",
    ]


def test_a_word_too_long_is_cut():
    assert split_text("x" * 130, chunk_size=10, overlap=0) == ["x" * 60, "x" * 60, "x" * 10]


def test_a_code_block_bigger_than_a_chunk_stays_whole_on_its_own():
    code = "```\n" + "\n".join(f"move({number})" for number in range(12)) + "\n```"
    assert count_tokens(code) > 20
    assert split_text(f"Before the code.\n\n{code}\n\nAfter the code.", chunk_size=20, overlap=5) == [
        "Before the code.",
        code,
        "After the code.",
    ]


def test_a_code_block_with_blank_lines_is_never_cut_at_them():
    code = "~~~js\nfirst();\n\n\nsecond();\n~~~"
    assert split_text(f"{code}\n\nThen more words here.", chunk_size=8, overlap=0) == [code, "Then more words here."]


def test_chunks_stay_within_the_size_unless_a_code_block_is_bigger():
    for item in iter_book(BOOK):
        if isinstance(item, Page):
            for chunk in chunk_page(item, chunk_size=12, overlap=4):
                assert count_tokens(chunk.text) <= 12 or chunk.text.startswith(("```", "~~~"))


def test_embed_text_puts_the_heading_path_above_the_text():
    chunk = chunk_page(parse_page(BOOK / "intro.md", BOOK))[4]
    assert chunk.embed_text == (
        "Welcome to the Robot Book > Custom anchor > The fast way to build\n\n"
        "Use [the builder](/docs/basics/) with care."
    )
    intro = chunk_page(parse_page(BOOK / "intro.md", BOOK))[0]
    assert intro.embed_text == "Welcome to the Robot Book\n\nThis book teaches you to build robots."


def test_content_hash_is_the_sha256_of_embed_text_and_stable():
    chunk = chunk_page(parse_page(BOOK / "intro.md", BOOK))[4]
    assert chunk.content_hash == "81e78dc1256c014ce321567992376610eeae29fdbd74b5201c09a676716e3434"
    assert chunk.content_hash == hashlib.sha256(chunk.embed_text.encode()).hexdigest()
    assert chunk_page(parse_page(BOOK / "intro.md", BOOK))[4].content_hash == chunk.content_hash


def test_content_hash_changes_with_the_text_or_the_headings():
    chunk = chunk_page(parse_page(BOOK / "intro.md", BOOK))[4]
    assert attrs.evolve(chunk, text=chunk.text + "!").content_hash != chunk.content_hash
    assert attrs.evolve(chunk, headings=("Other",)).content_hash != chunk.content_hash
    assert attrs.evolve(chunk, position=9).content_hash == chunk.content_hash


@pytest.mark.parametrize(("chunk_size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_rejects_sizes_that_cannot_work(chunk_size, overlap):
    with pytest.raises(ValueError):
        chunk_page(page_with(Section(1, "Robots", "", "text")), chunk_size=chunk_size, overlap=overlap)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("Hello world", 2),
        ("12345", 2),  # cl100k groups digits by three
        ("don't", 2),
        ("\n\n", 1),
    ],
)
def test_count_tokens_follows_cl100k_segmentation(text, tokens):
    assert count_tokens(text) == tokens
