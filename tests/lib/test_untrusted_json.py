"""JSON from outside, read without recursion it could exhaust and written out again without a lone surrogate."""

import json

import pytest

from lib.untrusted_json import MAX_DEPTH, nested_deeper_than, stored


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]", "\\"[[["]', 1),  # brackets inside strings, an escaped quote among them
        ("[" * 40_000 + "]" * 40_000, 40_000),
    ],
)
def test_counts_how_deeply_a_text_nests_brackets_in_strings_aside(text, depth):
    assert not nested_deeper_than(text, depth)
    assert nested_deeper_than(text, depth - 1) is (depth > 0)


def test_an_unterminated_string_full_of_quotes_and_backslashes_is_read_once():
    text = '["' + '\\"[' * 200_000  # a quadratic scan would take minutes
    assert not nested_deeper_than(text, 1) and nested_deeper_than(text, 0)


def test_a_stored_value_is_read_as_it_was_written():
    value = [{"title": "Nodes", "score": 0.5, "tags": ["a", None, True]}]
    assert stored(json.dumps(value), []) == value


@pytest.mark.parametrize("text", [None, "", "not json", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), b"[]"])
def test_a_stored_text_that_holds_no_readable_value_reads_as_the_default(text):
    assert stored(text, "default") == "default"


def test_lone_surrogates_anywhere_become_replacement_characters_and_pairs_stay():
    text = json.dumps({"\ud800key": [{"deep": ["\udfff", "\U0001F600"]}]})

    value = stored(text, None)

    assert value == {"\ufffdkey": [{"deep": ["\ufffd", "\U0001F600"]}]}
    json.dumps(value, ensure_ascii=False).encode("utf-8")
