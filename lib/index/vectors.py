"""The vector collection as the service and the indexer see it: one small interface, two engines.

- No QDRANT_URL: Qdrant's in-process engine, qdrant-edge (lib/index/edge.py), in a folder under DATA_DIR.
- QDRANT_URL: a Qdrant server through qdrant-client (lib/index/qdrant_server.py), as the deployment guide has it.

Both hold the same collection: a sparse vector per chunk (BM25 terms, Qdrant's IDF modifier), a dense
embedding when a model makes them, and the chunk's payload; plus the collection's own metadata (which
model made the dense vectors, the index version, the sources). Ids are UUID strings.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from attrs import field, frozen

from lib.book.chunking import embed_text
from lib.config import Config
from lib.index.sparse import SPARSE, Sparse


class VectorStoreLocked(Exception):
    """Raised when another process already holds the embedded collection's folder."""


@frozen
class Collection:
    """What the service needs to know about the indexed book."""

    name: str
    points: int
    dense_size: int | None
    dense_model: str | None
    index_version: str | None
    dense_points: int = 0  # the points that have their embedding yet
    metadata: Mapping[str, Any] = field(factory=dict)


def indexed_text(payload: Mapping[str, Any]) -> str:
    """What a point was indexed and embedded under, rebuilt from its payload (lib.book.chunking.embed_text)."""
    return embed_text(payload.get("title", ""), payload.get("headings", []), payload.get("text", ""))


def is_empty(collection: Collection | None) -> bool:
    """No collection yet, or one with no chunk in it: nothing to search."""
    return collection is None or not collection.points


@frozen
class Point:
    id: str
    payload: Mapping[str, Any]
    sparse: Sparse
    dense: Sequence[float] | None = None


@frozen
class Hit:
    id: str
    score: float  # the engine's: BM25, a cosine, or (fused) RRF
    payload: Mapping[str, Any]
    dense: Sequence[float] | None = None  # with `with_dense`, the stored embedding


class VectorStore(Protocol):
    """One collection of one engine. Every call may raise; the callers put breakers and timeouts around them."""

    name: str

    async def describe(self) -> Collection | None:
        """The collection, or None when it does not exist yet."""

    async def create(self, dense_size: int | None) -> None:
        """Make the collection anew, empty (whatever it held is gone), with dense vectors of this size or none."""

    async def payloads(self) -> dict[str, dict]:
        """Every point's payload, by id."""

    async def upsert(self, points: Sequence[Point]) -> None:
        """Write whole points (an existing id is replaced)."""

    async def set_payload(self, point_id: str, payload: Mapping[str, Any]) -> None:
        """Replace one point's payload, keeping its vectors."""

    async def delete(self, ids: Sequence[str]) -> None:
        """Remove points; an id that is not there is no error."""

    async def set_dense(self, embeddings: Mapping[str, Sequence[float]]) -> None:
        """Give points their embeddings, by id, keeping the rest of each point."""

    async def missing_dense(self, limit: int) -> list[tuple[str, dict]]:
        """Up to `limit` points without an embedding yet: (id, payload) each."""

    async def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Replace the collection's own metadata (what made it, its version, its sources)."""

    async def search(
        self,
        *,
        limit: int,
        sparse: Sparse | None = None,
        dense: Sequence[float] | None = None,
        depth: int | None = None,
        book: str | None = None,
        with_dense: bool = False,
    ) -> list[Hit]:
        """The best `limit` points, best first: by the sparse vector, the dense one, or both fused by RRF over
        `depth` candidates of each; only the book's when `book` is given; with the stored embeddings on request."""

    async def idf(self, indices: Sequence[int]) -> dict[int, float]:
        """Each term's inverse document frequency in the collection, as the IDF modifier has it; a term no
        point holds is left out."""

    async def flush(self) -> None:
        """Make what was written durable (an indexing run ends with it)."""

    async def close(self) -> None: ...


def open_vectors(config: Config) -> VectorStore:
    """The collection of QDRANT_URL's server, or of the embedded engine under DATA_DIR."""
    if config.qdrant_url:
        from lib.index.qdrant_server import open_server

        return open_server(config)
    from lib.index.edge import EdgeVectors

    return EdgeVectors.open(config.vectors_path / config.qdrant_collection_name, config.qdrant_collection_name)


# Payload fields the indexer and the searches filter on: each engine indexes them.
KEYWORDS = ("source", "content_hash", "book")


def idf_from(index: int, best) -> float | None:
    """A term's IDF, from the best point of a query for that term alone: it scores the IDF times the point's
    stored weight for the term (each engine's points have `score` and `vector`)."""
    for point in best:
        stored = (point.vector or {}).get(SPARSE)
        if stored is not None and index in stored.indices:
            weight = stored.values[list(stored.indices).index(index)]
            if weight > 0:
                return point.score / weight
    return None
