"""lib/answer/generation.py: how the model's "not in the book" is told from an answer."""

from __future__ import annotations

import pytest

from lib.answer import generation
from lib.answer.generation import NOT_IN_BOOK, SYSTEM_PROMPT


def test_the_prompt_asks_for_the_marker_with_a_reason_and_no_outside_knowledge():
    assert f"{NOT_IN_BOOK}:" in SYSTEM_PROMPT and "own knowledge" in SYSTEM_PROMPT


@pytest.mark.parametrize(
    "text",
    [
        "NOT_IN_BOOK",
        "NOT_IN_BOOK.",
        "not_in_book",
        "NOT_IN_BOOK: the book covers deploying to a Space, not Kubernetes.",
        "**NOT_IN_BOOK**",
        "`NOT_IN_BOOK` — nothing about Helm charts.",
        "The passages say nothing about it. NOT_IN_BOOK",
        "The book does not cover Helm charts.",
        "The passages don't mention Kubernetes at all.",
        "I'm sorry, but I cannot find anything about Okta in the passages.",
        "This is not covered in the book.",
        "There is no information about Stripe in these passages.",
    ],
)
def test_says_not_in_book_however_the_model_puts_it(text):
    assert generation.Generated(text, "m").not_in_book


@pytest.mark.parametrize(
    "text",
    [
        "Set TOP_K to 8 [1].",
        "The book does not cover Helm, but it deploys on a Space with one push [1].",
        "Not really: the answer cache is per process [2].",
        "Nothing else is needed beyond the key [1].",
        "It is stored in NOT_IN_BOOK_DIR [1].",
    ],
)
def test_an_answer_that_cites_a_passage_is_an_answer(text):
    assert not generation.Generated(text, "m").not_in_book


@pytest.mark.parametrize(
    "start, hold",
    [("", True), ("NOT", True), ("NOT_IN", True), ("**NOT_IN_BOOK**: no", True), ("NOT_IN_BOOK: the book", True),
     ("Not really", False), ("Set TOP_K", False), ("# Install", False)],
)
def test_holds_back_what_may_still_be_the_marker(start, hold):
    assert generation.may_be_refusal(start) is hold
