"""lib/answer/retrieval.py: search in each mode over the bundled book, with scores on each mode's scale."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy
import pytest

from lib.answer import retrieval
from lib.index import sparse
from lib.index.vectors import indexed_text
from tests.parts import local_mode, pool

CASES = Path(__file__).parents[2] / "eval" / "cases.jsonl"
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
async def test_a_book_filter_keeps_that_books_passages_in_every_mode(dense_index, config_for, fake_openai):
    # The bundled book is one docs folder: every passage is in the book "default".
    async with pool(config_for(dense_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        for mode in retrieval.MODES:
            everything = await retrieval.search(clients, QUESTION, 5, collection, mode=mode)
            assert {passage.book for passage in everything} == {"default"}, mode
            assert await retrieval.search(clients, QUESTION, 5, collection, mode=mode, book="default") == everything, mode
            assert await retrieval.search(clients, QUESTION, 5, collection, mode=mode, book="another") == [], mode


@pytest.mark.anyio
async def test_sparse_scores_weigh_question_terms_by_the_collections_idf(sparse_index, config_for):
    question = "How do I knead dough for a Hugging Face Space?"
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        found = await retrieval.search(clients, question, 5, collection)
        points = await clients.vectors.payloads()
    texts = {point_id: indexed_text(payload) for point_id, payload in points.items()}
    frequencies = Counter(term for text in texts.values() for term in set(sparse.terms(text)))
    idf = {term: sparse.bm25_idf(frequencies[term], len(points)) for term in sparse.terms(question)}
    assert idf["knead"] == idf["dough"] == max(idf.values())  # terms the book never uses weigh most
    assert found
    ceiling = sum(idf[term] for term in set(sparse.terms(question))) * (sparse.K1 + 1)
    for passage in found:
        document = sparse.document_vector(texts[passage.chunk_id])
        weights = dict(zip(document.indices, document.values))
        bm25 = sum(idf[term] * weights.get(sparse.term_index(term), 0.0) for term in set(sparse.terms(question)))
        assert passage.score == passage.lexical == pytest.approx(bm25 / ceiling, abs=1e-4)
        # knead and dough are in no passage: their IDF keeps every score low, whatever the rest matches
        assert passage.score < retrieval.lexical(sparse.terms(question), texts[passage.chunk_id], {}) <= 1 / (sparse.K1 + 1) + 0.2
    assert [passage.score for passage in found] == sorted((passage.score for passage in found), reverse=True)


def test_the_lexical_share_does_not_saturate_when_a_passage_holds_every_term():
    terms = sparse.terms("sourdough starter feeding")
    once = "A sourdough starter needs feeding. " + "Other words fill the rest of the passage here. " * 10
    often = "Sourdough starter feeding: feed the sourdough starter, feeding it daily, the starter of sourdough. " * 3
    assert set(terms) <= set(sparse.terms(once)) and set(terms) <= set(sparse.terms(often))  # both hold every term
    assert 0 < retrieval.lexical(terms, once, {}) < retrieval.lexical(terms, often, {}) < 1.0
    assert retrieval.lexical(terms, "nothing of it", {}) == 0.0


@pytest.mark.anyio
async def test_hybrid_scores_every_hit_by_its_cosine_even_one_the_dense_prefetch_missed(dense_index, config_for, fake_openai):
    questions = [json.loads(line)["query"] for line in CASES.read_text().splitlines() if line.strip()]
    top_k = 2
    words_alone = 0
    async with pool(config_for(dense_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        for question in questions:
            found = await retrieval.search(clients, question, top_k, collection, mode=retrieval.HYBRID)
            vector = await retrieval.embed_question(clients, question)
            depth = top_k * retrieval.PREFETCH_FACTOR
            dense = await clients.vectors.search(limit=depth, dense=vector)
            words_alone += sum(passage.chunk_id not in {hit.id for hit in dense} for passage in found)
            everything = await clients.vectors.search(limit=collection.points, dense=vector, with_dense=True)
            stored = {hit.id: numpy.asarray(hit.dense) for hit in everything}
            question_vector = numpy.asarray(vector)
            for passage in found:
                cosine = stored[passage.chunk_id] @ question_vector / numpy.linalg.norm(stored[passage.chunk_id]) / numpy.linalg.norm(question_vector)
                assert passage.score == pytest.approx(max(0.0, cosine), abs=1e-3), (question, passage.chunk_id)
    assert words_alone > 0  # a hit found by its words alone is scored by its cosine too


@pytest.mark.anyio
async def test_both_engines_keep_the_same_retrieval_contract(sparse_index, server_index, config_for):
    """The embedded engine and a Qdrant server (its local mode standing in) find and score alike."""
    questions = [json.loads(line)["query"] for line in CASES.read_text().splitlines() if line.strip()]
    results = {}
    for name, index in (("edge", sparse_index), ("server", server_index)):
        config = config_for(index)
        async with pool(config) as clients:
            if name == "server":  # the same DATA_DIR/qdrant that a server would hold, through qdrant-client
                await clients.vectors.close()
                clients.vectors = local_mode(config)
            collection = await retrieval.describe_collection(clients)
            results[name] = [await retrieval.search(clients, question, 5, collection) for question in questions]
            # One book's passages alone: the bundled book is all of the book "default".
            assert await retrieval.search(clients, questions[0], 5, collection, book="default") == results[name][0]
            assert await retrieval.search(clients, questions[0], 5, collection, book="another") == []
    same_hits = 0
    for edge, server in zip(results["edge"], results["server"]):
        assert [p.score for p in edge] == pytest.approx([p.score for p in server], abs=1e-4)
        same_hits += {p.chunk_id for p in edge} == {p.chunk_id for p in server}
    assert same_hits >= 0.95 * len(questions)  # ties at the fifth place may be broken either way
