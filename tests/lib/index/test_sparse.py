"""lib/index/sparse.py: terms, and the lexical relevance score."""

from __future__ import annotations

import math

import pytest

from lib.index import sparse


def test_terms_drop_stopwords_and_fold_plurals():
    assert sparse.terms("How do the chunks get their anchors?") == ["chunk", "get", "anchor"]


def test_bm25_idf_is_qdrants():
    # Qdrant's IDF modifier: ln((N - df + 0.5) / (df + 0.5) + 1)
    assert sparse.bm25_idf(0, 100) == pytest.approx(math.log(100.5 / 0.5 + 1))
    assert sparse.bm25_idf(100, 100) == pytest.approx(math.log(0.5 / 100.5 + 1))
    assert sparse.bm25_idf(3, 100) > sparse.bm25_idf(30, 100)
