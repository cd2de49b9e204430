"""lib/index/sparse.py: terms, and the lexical relevance score."""

from __future__ import annotations

import math

import pytest

from lib.index import sparse


def test_terms_drop_stopwords_and_fold_plurals():
    assert sparse.terms("How do the chunks get their anchors?") == ["chunk", "get", "anchor"]


def test_coverage_without_weights_is_the_share_of_the_question_terms():
    assert sparse.coverage("bake sourdough bread", "bread and butter") == pytest.approx(1 / 3)
    assert sparse.coverage("the of and", "anything") == 0.0


def test_coverage_weighs_each_term_by_its_idf():
    idf = {"bake": 5.0, "sourdough": 5.0, "bread": 2.0}
    assert sparse.coverage("bake sourdough bread", "bread and butter", idf) == pytest.approx(2 / 12)
    assert sparse.coverage("bake sourdough bread", "bake sourdough", idf) == pytest.approx(10 / 12)
    assert sparse.coverage("bake sourdough bread", "bake sourdough bread", idf) == 1.0


def test_a_term_without_an_idf_weighs_one():
    assert sparse.coverage("bake bread", "bread", {"bake": 3.0}) == pytest.approx(1 / 4)


def test_bm25_idf_is_qdrants():
    # Qdrant's IDF modifier: ln((N - df + 0.5) / (df + 0.5) + 1)
    assert sparse.bm25_idf(0, 100) == pytest.approx(math.log(100.5 / 0.5 + 1))
    assert sparse.bm25_idf(100, 100) == pytest.approx(math.log(0.5 / 100.5 + 1))
    assert sparse.bm25_idf(3, 100) > sparse.bm25_idf(30, 100)
