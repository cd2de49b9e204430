"""lib/retrieval.py: search in each mode over the bundled book, with scores on each mode's scale."""

from __future__ import annotations

from collections import Counter

import pytest

from lib import retrieval, sparse
from tests.parts import pool

QUESTION = "Where do I copy the connection string on Neon?"


@pytest.mark.anyio
async def test_searches_sparse_only_without_a_dense_model(sparse_index, config_for):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        assert retrieval.configured_mode(clients.config, collection) == retrieval.SPARSE
        found = await retrieval.search(clients, QUESTION, 5, collection)
        assert found[0].url.endswith("#neon")
        assert found == await retrieval.search(clients, QUESTION, 5, collection, mode=retrieval.SPARSE)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [retrieval.DENSE, retrieval.HYBRID])
async def test_dense_and_hybrid_need_a_dense_model(sparse_index, config_for, mode):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        with pytest.raises(ValueError, match="needs a dense model"):
            await retrieval.search(clients, QUESTION, 5, collection, mode=mode)


@pytest.mark.anyio
async def test_refuses_an_unknown_mode(sparse_index, config_for):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        with pytest.raises(ValueError, match="mode must be one of"):
            await retrieval.search(clients, QUESTION, 5, collection, mode="fuzzy")


@pytest.mark.anyio
async def test_searches_in_every_mode_with_a_dense_model(dense_index, config_for, fake_openai):
    async with pool(config_for(dense_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        assert retrieval.configured_mode(clients.config, collection) == retrieval.HYBRID
        by_mode = {mode: await retrieval.search(clients, QUESTION, 5, collection, mode=mode) for mode in retrieval.MODES}
    for mode, found in by_mode.items():
        assert len(found) == 5, mode
        assert all(0.0 <= passage.score <= 1.0 for passage in found), mode
    dense = {passage.chunk_id: passage.score for passage in by_mode[retrieval.DENSE]}
    assert [passage.score for passage in by_mode[retrieval.DENSE]] == sorted(dense.values(), reverse=True)
    # dense and hybrid scores are one scale: the cosine of the question's and the passage's embeddings
    shared = [passage for passage in by_mode[retrieval.HYBRID] if passage.chunk_id in dense]
    assert shared
    for passage in shared:
        assert passage.score == pytest.approx(dense[passage.chunk_id], abs=1e-3)


@pytest.mark.anyio
async def test_sparse_scores_weigh_question_terms_by_the_collections_idf(sparse_index, config_for):
    question = "How do I knead dough for a Hugging Face Space?"
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        found = await retrieval.search(clients, question, 5, collection)
        points, _ = await clients.qdrant.scroll(collection.name, limit=10_000, with_payload=True)
    texts = {str(point.id): retrieval._indexed_text(point.payload) for point in points}
    frequencies = Counter(term for text in texts.values() for term in set(sparse.terms(text)))
    idf = {term: sparse.bm25_idf(frequencies[term], len(points)) for term in sparse.terms(question)}
    assert idf["knead"] == idf["dough"] == max(idf.values())  # terms the book never uses weigh most
    assert found
    for passage in found:
        assert passage.score == pytest.approx(sparse.coverage(question, texts[passage.chunk_id], idf), abs=1e-4)
        assert passage.score < sparse.coverage(question, texts[passage.chunk_id])
