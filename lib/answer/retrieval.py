"""Find the book's passages for a question, each with the evidence of how well it matches.

Qdrant ranks: BM25 over sparse term vectors alone, or fused with dense
embeddings by Reciprocal Rank Fusion. RRF scores only order hits, and BM25
sums depend on the collection, so every passage carries evidence on fixed
scales instead:

- `lexical`, always: the passage's BM25 over the question's terms as a share
  of the most any passage could score (`lexical`, below): 0 when it holds
  none of them, about 0.45 when it holds each once at an average length, and
  1 only in the limit; it does not saturate as the share of terms found does;
- `cosine`, with dense vectors (hybrid or dense search): the cosine similarity
  of the question's and the passage's embeddings, on the model's own scale.

A passage's `score` here is the evidence of the mode searched (the cosine, or
the lexical share). lib.answer.refusal turns the evidence into the score a
reader sees (one scale for every mode, book and model) and decides whether
the book answers the question at all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Sequence

import numpy as np
from attrs import frozen

from lib.breaker import CircuitOpen
from lib.caches import normalise
from lib.errors import Unavailable, UpstreamTimeout
from lib.index import sparse
from lib.index.embedding import EmbeddingFailed
from lib.index.sparse import DENSE, SPARSE
from lib.index.vectors import Collection, Hit, indexed_text

log = logging.getLogger("bookbot")

HYBRID = "hybrid"
MODES = (HYBRID, DENSE, SPARSE)  # search modes; "dense" and "sparse" are also the names of the vectors
PREFETCH_FACTOR = 4
MAX_IDF_TERMS = 64  # a question's terms whose IDF is looked up; the rest weigh 1


@frozen
class Passage:
    chunk_id: str
    title: str
    section: str
    url: str
    text: str
    score: float
    book: str | None = None  # the id of the docs instance it comes from
    lexical: float = 0.0  # the passage's BM25 as a share of the question's ideal (see `lexical`)
    cosine: float | None = None  # with dense vectors: the embeddings' cosine similarity


async def _vectors(clients, read):
    """`await read()` against the vector store: behind its breaker, within QDRANT_TIMEOUT.
    Unavailable (503) or UpstreamTimeout (504) otherwise."""
    if clients.vectors is None:
        raise Unavailable(clients.vectors_error or "the vector store is not open", retry_after=30)
    try:
        with clients.guards.qdrant.call():
            async with asyncio.timeout(clients.config.qdrant_timeout):
                return await read()
    except CircuitOpen as error:
        raise Unavailable("the vector store is unreachable", retry_after=error.retry_after_seconds) from None
    except TimeoutError:
        log.warning("vector store: no answer within QDRANT_TIMEOUT")
        raise UpstreamTimeout("the vector store took too long", headers={"Retry-After": "5"}) from None
    except Exception as error:
        log.warning("vector store unreachable: %s", error)
        raise Unavailable("the vector store is unreachable") from None


async def describe_collection(clients) -> Collection | None:
    """The collection's size, dense vectors and version, or None when it does not exist yet."""
    return await _vectors(clients, lambda: clients.vectors.describe())


def dense_mismatch(collection: Collection, config) -> str | None:
    """Why the collection's dense vectors can't serve the configured model, if they can't."""
    if not config.dense_enabled or collection.dense_size is None:
        return None
    if collection.dense_model and collection.dense_model != config.embedding_model:
        return (
            f"collection {collection.name} was indexed with {collection.dense_model} but the configured embeddings "
            f"are {config.embedding_model}; re-run python -m lib.ingest --recreate"
        )
    return None


async def embed_question(clients, question: str) -> Sequence[float]:
    """The question's embedding by the configured model, from the cache when it was asked lately; a remote
    model is called within OPENAI_TIMEOUT, behind its breaker."""
    embedder = clients.embedder
    if embedder is None:
        raise Unavailable("no embedding model is configured")

    async def compute():
        [vector] = await embedder.embed([question])
        return vector

    async def cached():
        vector, _ = await clients.caches.embeddings.get_or_compute((embedder.model, normalise(question)), compute)
        return vector

    return await _embedding(clients, cached)


async def embed_texts(clients, texts: Sequence[str]) -> list[Sequence[float]]:
    """Several texts' embeddings in one call to the configured model (not cached), guarded as `embed_question`'s."""
    embedder = clients.embedder
    if embedder is None:
        raise Unavailable("no embedding model is configured")
    return await _embedding(clients, lambda: embedder.embed(list(texts)))


async def _embedding(clients, call):
    """`await call()` on the embedding model: a remote one within OPENAI_TIMEOUT, behind its breaker."""
    try:
        if not clients.embedder.remote:
            return await call()
        with clients.guards.openai.call():
            async with asyncio.timeout(clients.config.openai_timeout):
                return await call()
    except CircuitOpen as error:
        raise Unavailable("the embedding model is unavailable", retry_after=error.retry_after_seconds) from None
    except TimeoutError:
        raise UpstreamTimeout("the embedding model took too long") from None
    except EmbeddingFailed as error:
        log.warning("embedding failed: %s", error)
        raise Unavailable("the embedding model is unavailable") from None


def cosines(question: Sequence[float], passages: Sequence[Sequence[float]]) -> list[float]:
    """The cosine of the question's embedding with each passage's, in one matrix product."""
    if not passages:
        return []
    q = np.asarray(question, dtype=np.float32)
    matrix = np.asarray(passages, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(q)
    return (matrix @ q / np.where(norms > 0, norms, 1.0)).tolist()


def _unit(value: float) -> float:
    return round(max(0.0, min(1.0, value)), 4)


def _passage(hit: Hit, lexical: float, cosine: float | None = None) -> Passage:
    payload = hit.payload
    return Passage(
        chunk_id=hit.id,
        title=payload.get("title", ""),
        section=payload.get("section", ""),
        url=payload.get("url", ""),
        text=payload.get("text", ""),
        score=_unit(lexical if cosine is None else cosine),
        lexical=_unit(lexical),
        cosine=None if cosine is None else round(cosine, 4),
        book=payload.get("book"),
    )


def lexical(question_terms: Sequence[str], indexed_text: str, idf: dict[str, float]) -> float:
    """A passage's BM25 for the question over the most a passage could score, from 0 to 1.

    The BM25 of a term saturates at (K1 + 1) times its IDF however often the
    passage repeats it, so the sum over the question's distinct terms of that
    is the ceiling; a term the book never uses keeps its (highest) IDF there
    and adds nothing above. A passage that holds every term once at an average
    length scores 1 / (K1 + 1), about 0.45.
    """
    wanted = set(question_terms)
    ceiling = sum(idf.get(term, 1.0) for term in wanted) * (sparse.K1 + 1)
    if not ceiling:
        return 0.0
    weights = _weights(indexed_text)
    return sum(idf.get(term, 1.0) * weights.get(sparse.term_index(term), 0.0) for term in wanted) / ceiling


@functools.lru_cache(maxsize=4096)
def _weights(indexed_text: str) -> dict[int, float]:
    """A passage's BM25 weight of each term index: the same passages come back question after question."""
    document = sparse.document_vector(indexed_text)
    return dict(zip(document.indices, document.values))


def configured_mode(config, collection: Collection) -> str:
    """How the service searches: hybrid once every chunk has its embedding from the configured model, else
    sparse (while the embeddings are still being made, too: scores on one scale for every passage)."""
    embedded = collection.dense_size is not None and collection.dense_points == collection.points > 0
    return HYBRID if config.dense_enabled and embedded and not dense_mismatch(collection, config) else SPARSE


async def search(
    clients, question: str, top_k: int, collection: Collection, *, mode: str | None = None, book: str | None = None
) -> list[Passage]:
    """The best `top_k` passages for a question, best first, each scored from 0 to 1; of one book when given.

    `mode` is `hybrid`, `dense` or `sparse`; by default, the configured one
    (`configured_mode`). The evaluation asks for the others to compare them.
    """
    mode = mode or configured_mode(clients.config, collection)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != SPARSE and configured_mode(clients.config, collection) != HYBRID:
        raise ValueError(f"{mode} search needs a dense model and a collection with dense vectors")
    sparse_query = sparse.query_vector(question)
    if mode == HYBRID:
        try:
            vector = await embed_question(clients, question)
        except (Unavailable, UpstreamTimeout):
            if not sparse_query.indices:
                raise
            # The model is down: the sparse vectors alone still find passages, and the answer is
            # extractive, as the contract wants, rather than a 503.
            log.warning("embedding failed: searching the sparse vectors alone")
            mode = SPARSE
        else:
            return await _hybrid(clients, question, vector, sparse_query, top_k, collection, book)
    terms = sparse.terms(question)
    if mode == DENSE:
        vector = await embed_question(clients, question)
        hits, idf = await asyncio.gather(
            _vectors(clients, lambda: clients.vectors.search(limit=top_k, dense=vector, book=book)),
            question_idf(clients, collection, question),
        )
        # the engine's score is a cosine, as the collection is set up
        return [_passage(hit, lexical(terms, indexed_text(hit.payload), idf), hit.score) for hit in hits]
    if not sparse_query.indices:
        return []
    hits, idf = await asyncio.gather(
        _vectors(clients, lambda: clients.vectors.search(limit=top_k, sparse=sparse_query, book=book)),
        question_idf(clients, collection, question),
    )
    return [_passage(hit, lexical(terms, indexed_text(hit.payload), idf)) for hit in hits]


async def _hybrid(
    clients, question: str, vector: Sequence[float], sparse_query, top_k: int, collection, book: str | None
) -> list[Passage]:
    """Dense and sparse hits fused by RRF, each with its cosine and its lexical share.

    The fused hits come with their stored embeddings: the engine reports only the fused rank's score.
    """
    hits, idf = await asyncio.gather(
        _vectors(
            clients,
            lambda: clients.vectors.search(
                limit=top_k,
                dense=vector,
                sparse=sparse_query if sparse_query.indices else None,
                depth=top_k * PREFETCH_FACTOR,
                book=book,
                with_dense=True,
            ),
        ),
        question_idf(clients, collection, question),
    )
    terms = sparse.terms(question)
    scores = cosines(vector, [hit.dense for hit in hits])
    return [_passage(hit, lexical(terms, indexed_text(hit.payload), idf), cosine) for hit, cosine in zip(hits, scores)]


async def nearest_cosines(clients, vector: Sequence[float], limit: int) -> list[float]:
    """The cosines of the `limit` passages nearest to an embedding, best first."""
    hits = await _vectors(clients, lambda: clients.vectors.search(limit=limit, dense=vector))
    return [hit.score for hit in hits]


async def question_idf(clients, collection: Collection, question: str) -> dict[str, float]:
    """Each of the question's terms' IDF in the collection (see `_idf`); none for a question of stopwords.

    Kept on the pool for the collection's state (its version and size): the search and the refusal ask alike.
    """
    terms = sparse.terms(question)
    if not terms:
        return {}
    key = (collection.name, collection.index_version, collection.points, tuple(sorted(set(terms))))
    idf, _ = await clients.caches.idf.get_or_compute(key, lambda: _vectors(clients, lambda: _idf(clients, collection, terms)))
    return idf


async def _idf(clients, collection: Collection, terms: list[str]) -> dict[str, float]:
    """Each term's inverse document frequency in the collection, as Qdrant's IDF modifier has it; a term that
    no passage holds gets the IDF of a document frequency of 0."""
    wanted = sorted(set(terms))[:MAX_IDF_TERMS]
    found = await clients.vectors.idf([sparse.term_index(term) for term in wanted])
    unseen = sparse.bm25_idf(0, collection.points)
    return {term: found.get(sparse.term_index(term), unseen) for term in wanted}

