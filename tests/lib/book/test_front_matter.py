import pytest

from lib.book.front_matter import FrontMatterError, split_front_matter


def test_reads_the_subset_docusaurus_pages_use():
    text = """---
id: intro
title: "Hello: \\"world\\" \\u00e9"
slug: /start
sidebar_label: 'It''s here'
draft: false
unlisted: True
sidebar_position: 3
weight: 1.5
nothing:
empty: ~
tags: [a, 'b, c', "d"]
keywords:
  - one
  - two
aligned:
- x
- y
last_update:
  date: 2021-01-01
  author: Me
description: |
  Line one
  line two
summary: >-
  folded
  text

  new paragraph
# a comment
tag_objects:
  - label: A
    permalink: /a
  - label: B
map: {a: 1, b: x}
long: a plain string
  folded over lines  # and a comment
---
# Body
"""
    data, body = split_front_matter(text)
    assert data == {
        "id": "intro",
        "title": 'Hello: "world" é',
        "slug": "/start",
        "sidebar_label": "It's here",
        "draft": False,
        "unlisted": True,
        "sidebar_position": 3,
        "weight": 1.5,
        "nothing": None,
        "empty": None,
        "tags": ["a", "b, c", "d"],
        "keywords": ["one", "two"],
        "aligned": ["x", "y"],
        "last_update": {"date": "2021-01-01", "author": "Me"},
        "description": "Line one\nline two\n",
        "summary": "folded text\nnew paragraph",
        "tag_objects": [{"label": "A", "permalink": "/a"}, {"label": "B"}],
        "map": {"a": 1, "b": "x"},
        "long": "a plain string folded over lines",
    }
    assert body == "# Body\n"


def test_a_file_without_front_matter_is_all_body():
    assert split_front_matter("# Title\n---\ntext") == ({}, "# Title\n---\ntext")


def test_an_empty_block_is_an_empty_mapping():
    assert split_front_matter("---\n---\ntext") == ({}, "text")


def test_a_title_with_a_hash_keeps_it_when_quoted():
    data, _ = split_front_matter('---\ntitle: "C# basics"\nother: C# too # comment\n---\n')
    assert data == {"title": "C# basics", "other": "C# too"}


@pytest.mark.parametrize(
    "yaml",
    [
        # as Prettier writes a long value (hasura's docs: 113 pages were dropped for these), and as PyYAML reads it
        "description:\n  A plain value on the next line.",
        "description:\n  \"A quoted value,\n  folded over two lines.\"",
        "description: \"A quoted value,\n  folded over two lines.\"",
        "description:\n  A plain value,\n  folded over two lines.",
    ],
)
def test_a_value_on_the_lines_after_its_key_is_read_as_yaml_reads_it(yaml):
    front_matter, _ = split_front_matter(f"---\n{yaml}\ntitle: T\n---\nbody")
    assert front_matter["title"] == "T" and front_matter["description"].startswith("A ")
    assert "\n" not in front_matter["description"] and '"' not in front_matter["description"]


def test_a_flow_list_over_several_lines_with_a_trailing_comma_is_a_list():
    front_matter, _ = split_front_matter("---\nauthors:\n  [\n    ana,\n    bo,\n  ]\ntags: [a, b, ]\n---\n")
    assert front_matter == {"authors": ["ana", "bo"], "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: x\nbody", "never closed"),
        ("---\ntitle x\n---\n", "line 2: expected `key: value`, got 'title x'"),
        ("---\n  title: x\n---\n", "line 2: the first key must not be indented"),
        ("---\ntitle: x\ntitle: y\n---\n", "line 3: key 'title' is given twice"),
        ("---\ntitle: 'x\n---\n", "line 2: a quoted string is not closed"),
        ("---\ntitle: \"x\" y\n---\n", "line 2: unexpected 'y' after a value"),
        ("---\ntags: [a, [b]]\n---\n", "nested flow collections are not supported"),
        ("---\ntags: [a, b\n---\n", "is never closed with ]"),
        ("---\nbase: &anchor x\n---\n", "anchors, aliases and tags are not supported"),
        ("---\n- a\n- b\n---\n", "line 2: expected `key: value`, got '- a'"),
        ("---\ntitle: x\n\tauthor: y\n---\n", "line 3: tabs can't indent YAML"),
    ],
)
def test_rejects_broken_front_matter_saying_where(text, message):
    with pytest.raises(FrontMatterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        split_front_matter(text)
