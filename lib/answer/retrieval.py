"""Find the book's passages for a question, each with a relevance score from 0 to 1.

Qdrant ranks: BM25 over sparse term vectors alone, or fused with dense
embeddings by Reciprocal Rank Fusion. RRF scores only order hits, and BM25
sums depend on the collection, so the refusal threshold is applied to a
relevance on a fixed scale instead:

- with dense vectors (hybrid or dense search): the cosine similarity of the
  question's and the passage's embeddings;
- without (sparse search): the IDF-weighted share of the question's terms
  that the passage contains (`sparse.coverage`), with each term's IDF as
  Qdrant's IDF modifier computes it over the collection.

`SIMILARITY_THRESHOLD` (or the default of the scale in use, see lib/config.py)
is compared with these: a passage below it is not used, and a question none
of whose passages reach it is refused.
"""

from __future__ import annotations

import asyncio
import logging
import math
from operator import mul

import openai
from attrs import frozen
from qdrant_client import models
from qdrant_client.http.exceptions import ResponseHandlingException

from lib.breaker import CircuitOpen, retrying
from lib.errors import Unavailable, UpstreamTimeout
from lib.index import sparse
from lib.index.sparse import DENSE, SPARSE

log = logging.getLogger("bookbot")

HYBRID = "hybrid"
MODES = (HYBRID, DENSE, SPARSE)  # search modes; "dense" and "sparse" are also the names of the vectors
PREFETCH_FACTOR = 4
MAX_IDF_TERMS = 64  # a question's terms whose IDF is looked up; the rest weigh 1


@frozen
class Collection:
    """What the service needs to know about the indexed book."""

    name: str
    points: int
    dense_size: int | None
    dense_model: str | None
    index_version: str | None


@frozen
class Passage:
    chunk_id: str
    title: str
    section: str
    url: str
    text: str
    score: float
    book: str | None = None  # the id of the docs instance it comes from


def book_filter(book: str | None) -> models.Filter | None:
    """The Qdrant filter that keeps the passages of one book (a docs instance's id); None keeps every book."""
    if book is None:
        return None
    return models.Filter(must=[models.FieldCondition(key="book", match=models.MatchValue(value=book))])


async def _qdrant(clients, read):
    """`await read()` against Qdrant: behind its breaker, within QDRANT_TIMEOUT in all, once more after a
    dropped connection (reads are safe to repeat). Unavailable (503) or UpstreamTimeout (504) otherwise."""
    try:
        with clients.guards.qdrant.call():
            async with asyncio.timeout(clients.config.qdrant_timeout):
                return await retrying(read, retry_on=(ResponseHandlingException,))
    except CircuitOpen as error:
        raise Unavailable("the vector store is unreachable", retry_after=error.retry_after_seconds) from None
    except TimeoutError:
        log.warning("vector store: no answer within QDRANT_TIMEOUT")
        raise UpstreamTimeout("the vector store took too long", headers={"Retry-After": "5"}) from None
    except Exception as error:
        log.warning("vector store unreachable: %s", error)
        raise Unavailable("the vector store is unreachable") from None


async def describe_collection(clients) -> Collection | None:
    """The collection's vector config and size, or None when it does not exist yet."""
    name = clients.config.qdrant_collection_name
    if clients.qdrant is None:
        raise Unavailable(clients.qdrant_error or "the vector store is not open", retry_after=30)

    async def read():
        if not await clients.qdrant.collection_exists(name):
            return None
        return await clients.qdrant.get_collection(name)

    info = await _qdrant(clients, read)
    if info is None:
        return None
    vectors = info.config.params.vectors
    dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
    metadata = info.config.metadata or {}
    return Collection(
        name=name,
        points=info.points_count or 0,
        dense_size=dense.size if dense else None,
        dense_model=metadata.get("dense_model"),
        index_version=metadata.get("index_version"),
    )


def dense_mismatch(collection: Collection, config) -> str | None:
    """Why the collection's dense vectors can't serve the configured model, if they can't."""
    if not config.dense_enabled or collection.dense_size is None:
        return None
    if collection.dense_model and collection.dense_model != config.openai_embedding_model:
        return (
            f"collection {collection.name} was indexed with {collection.dense_model} but "
            f"OPENAI_EMBEDDING_MODEL is {config.openai_embedding_model}; re-run python -m lib.ingest --recreate"
        )
    return None


async def embed(clients, texts: list[str]) -> list[list[float]]:
    """Dense embeddings from the configured model, within OPENAI_TIMEOUT, behind the model's breaker."""
    try:
        with clients.guards.openai.call():
            async with asyncio.timeout(clients.config.openai_timeout):
                response = await clients.openai.embeddings.create(
                    model=clients.config.openai_embedding_model, input=texts
                )
    except CircuitOpen as error:
        raise Unavailable("the embedding model is unavailable", retry_after=error.retry_after_seconds) from None
    except (openai.APITimeoutError, TimeoutError):
        raise UpstreamTimeout("the embedding model took too long") from None
    except openai.APIError as error:
        log.warning("embedding failed: %s", error)
        raise Unavailable("the embedding model is unavailable") from None
    return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(map(mul, vector, vector)))


def _cosine(question: list[float], passage: list[float], question_norm: float) -> float:
    # map(mul) runs in C: several times faster than a generator over 1,536 dimensions.
    norm = question_norm * _norm(passage)
    return sum(map(mul, question, passage)) / norm if norm else 0.0


def _passage(point, score: float) -> Passage:
    payload = point.payload or {}
    return Passage(
        chunk_id=str(point.id),
        title=payload.get("title", ""),
        section=payload.get("section", ""),
        url=payload.get("url", ""),
        text=payload.get("text", ""),
        score=round(max(0.0, min(1.0, score)), 4),
        book=payload.get("book"),
    )


def configured_mode(config, collection: Collection) -> str:
    """How the service searches: hybrid when a dense model serves the collection, else sparse."""
    return HYBRID if config.dense_enabled and collection.dense_size is not None else SPARSE


async def search(
    clients, question: str, top_k: int, collection: Collection, *, mode: str | None = None, book: str | None = None
) -> list[Passage]:
    """The best `top_k` passages for a question, best first, each scored from 0 to 1; of one book when given.

    `mode` is `hybrid`, `dense` or `sparse`; by default, the configured one
    (`configured_mode`). The evaluation asks for the others to compare them.
    """
    only = book_filter(book)
    mode = mode or configured_mode(clients.config, collection)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != SPARSE and configured_mode(clients.config, collection) != HYBRID:
        raise ValueError(f"{mode} search needs a dense model and a collection with dense vectors")
    sparse_query = sparse.query_vector(question)
    if mode == HYBRID:
        try:
            [vector] = await embed(clients, [question])
        except (Unavailable, UpstreamTimeout):
            if not sparse_query.indices:
                raise
            # The model is down: the sparse vectors alone still find passages, and the answer is
            # extractive, as the contract wants, rather than a 503.
            log.warning("embedding failed: searching the sparse vectors alone")
            mode = SPARSE
        else:
            return await _hybrid(clients, collection, vector, sparse_query, top_k, only)
    if mode == DENSE:
        [vector] = await embed(clients, [question])
        result = await _qdrant(
            clients,
            lambda: clients.qdrant.query_points(
                collection.name, query=vector, using=DENSE, query_filter=only, limit=top_k, with_payload=True
            ),
        )
        return [_passage(point, point.score) for point in result.points]  # cosine, as the collection is set up
    if not sparse_query.indices:
        return []
    result, idf = await asyncio.gather(
        _qdrant(
            clients,
            lambda: clients.qdrant.query_points(
                collection.name, query=sparse_query, using=SPARSE, query_filter=only, limit=top_k, with_payload=True
            ),
        ),
        _qdrant(clients, lambda: _idf(clients, collection, sparse.terms(question))),
    )
    return [_passage(point, sparse.coverage(question, _indexed_text(point.payload or {}), idf)) for point in result.points]


async def _hybrid(
    clients, collection: Collection, vector: list[float], sparse_query, top_k: int, only: models.Filter | None
) -> list[Passage]:
    """Dense and sparse hits fused by RRF, each scored by its cosine with the question.

    The fused hits come with their dense vectors: asking Qdrant for the dense
    scores instead costs a second query (measured: no cheaper with the REST
    client, and a second scan of the collection in local mode).
    """
    depth = top_k * PREFETCH_FACTOR
    prefetch = [models.Prefetch(query=vector, using=DENSE, filter=only, limit=depth)]
    if sparse_query.indices:
        prefetch.append(models.Prefetch(query=sparse_query, using=SPARSE, filter=only, limit=depth))
    result = await _qdrant(
        clients,
        lambda: clients.qdrant.query_points(
            collection.name,
            prefetch=prefetch,
            query=models.FusionQuery(fusion=models.Fusion.RRF),
            query_filter=only,
            limit=top_k,
            with_payload=True,
            with_vectors=[DENSE],
        ),
    )
    norm = _norm(vector)
    return [_passage(point, _cosine(vector, point.vector[DENSE], norm)) for point in result.points]


async def _idf(clients, collection: Collection, terms: list[str]) -> dict[str, float]:
    """Each term's inverse document frequency in the collection, as Qdrant's IDF modifier has it.

    A one-term query scores a passage by the term's IDF times the passage's
    stored weight for it, so the best hit's score over that weight is the IDF:
    one batched request, and nothing to store at indexing time. A term that no
    passage holds gets the IDF of a document frequency of 0.
    """
    wanted = sorted(set(terms))[:MAX_IDF_TERMS]
    if not wanted:
        return {}
    requests = [
        models.QueryRequest(
            query=models.SparseVector(indices=[sparse.term_index(term)], values=[1.0]),
            using=SPARSE,
            limit=1,
            with_vector=[SPARSE],
        )
        for term in wanted
    ]
    responses = await clients.qdrant.query_batch_points(collection.name, requests=requests)
    unseen = sparse.bm25_idf(0, collection.points)
    found = {}
    for term, response in zip(wanted, responses):
        found[term] = unseen
        for point in response.points:
            stored = (point.vector or {}).get(SPARSE)
            index = sparse.term_index(term)
            if stored is not None and index in stored.indices:
                weight = stored.values[stored.indices.index(index)]
                if weight > 0:
                    found[term] = point.score / weight
    return found


def _indexed_text(payload: dict) -> str:
    """The words a passage was indexed under: its page title, heading path and text."""
    return " ".join([payload.get("title", ""), *payload.get("headings", []), payload.get("text", "")])
