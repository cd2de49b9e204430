"""lib/answer/refusal.py: the evidence, the relevance it gives each passage, and the decision, on the bundled book."""

from __future__ import annotations

import attrs
import pytest

from lib.answer import refusal, retrieval
from lib.index import sparse
from tests.parts import pool

IN_BOOK = "Where do I copy the connection string on Neon?"
NEAR_MISS = "How do I install Bookbot with a Helm chart on Kubernetes?"


def test_the_missing_share_weighs_the_terms_no_passage_holds_by_their_idf():
    unseen = sparse.bm25_idf(0, 100)
    assert refusal.missing_share({"neon": 3.0, "kubernetes": unseen}, 100) == pytest.approx(unseen / (3.0 + unseen))
    assert refusal.missing_share({"neon": 3.0}, 100) == 0.0
    assert refusal.missing_share({}, 100) == 1.0  # a question of stopwords asks about nothing the book holds


def test_a_cosine_is_scaled_to_what_lies_above_the_books_floor():
    assert refusal.scaled(0.6, 0.2) == pytest.approx(0.5)
    assert refusal.scaled(0.1, 0.2) < 0 < refusal.scaled(0.3, 0.2)


def test_relevance_rises_with_the_match_and_falls_with_what_the_book_lacks():
    model = refusal.HYBRID_MODEL
    assert model.relevance(0.0, 0.5, 0.5, 0.2) > model.relevance(0.0, 0.2, 0.5, 0.2) > model.relevance(0.6, 0.2, 0.5, 0.2)
    assert model.relevance(0.0, 0.5, 0.5, 0.3) > model.relevance(0.0, 0.5, 0.5, 0.1)
    assert 0.0 < model.relevance(1.0, 0.0, -1.0, 0.0) < 0.05 and 0.99 < model.relevance(0.0, 1.0, 1.0, 1.0) < 1.0


def test_the_cut_is_lower_when_a_model_judges_and_the_threshold_replaces_both(sparse_index, dense_index):
    assert refusal.cut_for(sparse_index) == refusal.quoting_cut(sparse_index) == refusal.ANSWER_CUT
    assert refusal.cut_for(dense_index) == refusal.MODEL_CUT < refusal.quoting_cut(dense_index)
    fixed = attrs.evolve(dense_index, similarity_threshold=0.4)
    assert refusal.cut_for(fixed) == refusal.quoting_cut(fixed) == 0.4


@pytest.mark.anyio
async def test_sparse_evidence_answers_a_question_in_the_book_and_refuses_one_beside_it(sparse_index, config_for):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        judged = {}
        for question in (IN_BOOK, NEAR_MISS):
            found = await retrieval.search(clients, question, 5, collection)
            judged[question] = await refusal.judge(clients, collection, question, found)
        nothing = await refusal.judge(clients, collection, "what is it?", [])
    answered, refused = judged[IN_BOOK], judged[NEAR_MISS]
    assert answered.reason is None and answered.evidence.mode == "sparse" and answered.evidence.semantic is None
    assert answered.passages[0].url.endswith("#neon") and answered.usable
    assert [p.score for p in answered.passages] == sorted((p.score for p in answered.passages), reverse=True)
    assert all(0.0 <= p.score <= 1.0 for p in answered.passages)
    assert refused.reason == "low_score" and not refused.usable
    assert refused.evidence.missing > 0.5 > answered.evidence.missing  # helm, chart and kubernetes are nowhere in it
    assert refused.evidence.best < refusal.ANSWER_CUT <= answered.evidence.best
    assert nothing.reason == "no_hits" and nothing.passages == ()


@pytest.mark.anyio
async def test_hybrid_evidence_measures_the_books_floor_once_per_index_version(dense_index, config_for, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        for question in (IN_BOOK, NEAR_MISS):
            found = await retrieval.search(clients, question, 5, collection)
            judged = await refusal.judge(clients, collection, question, found)
            assert judged.evidence.mode == "hybrid" and judged.evidence.floor is not None
            assert judged.evidence.semantic is not None and judged.evidence.lift is not None
        probes = [call for call in fake_openai.calls("embeddings") if call["input"] == list(refusal.PROBES)]
        assert len(probes) == 1
        # A new index version is a new book: its floor is measured again.
        newer = attrs.evolve(collection, index_version="another")
        await refusal.judge(clients, newer, IN_BOOK, found)
        assert len([call for call in fake_openai.calls("embeddings") if call["input"] == list(refusal.PROBES)]) == 2


@pytest.mark.anyio
async def test_judges_on_the_sparse_evidence_when_the_embedding_model_fails(dense_index, config_for, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        found = await retrieval.search(clients, IN_BOOK, 5, collection)
        fake_openai.fail_next(status=500, times=10, path="embeddings")
        judged = await refusal.judge(clients, attrs.evolve(collection, index_version="unmeasured"), IN_BOOK, found)
    assert judged.evidence.mode == "sparse" and judged.evidence.floor is None
    assert judged.passages and all(0.0 <= p.score <= 1.0 for p in judged.passages)
