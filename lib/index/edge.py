"""The embedded collection: Qdrant's in-process engine, qdrant-edge, in a folder of its own under DATA_DIR.

`DATA_DIR/vectors/<collection>/` holds the engine's shard (`shard/`) and the collection's metadata
(`collection.json`: the engine keeps none of its own). A write is in the engine's write-ahead log when
`update` returns, so it survives the process being killed; `flush` makes it survive the machine too.

Every call runs on the caller's thread and holds the GIL for its length: a search takes well under a
millisecond at 10,000 chunks, so the service calls it straight from the event loop; writes go in small
batches. One process at a time may open the folder (the engine locks its log).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

import qdrant_edge as edge

from lib.index.sparse import DENSE, SPARSE, Sparse
from lib.index.vectors import KEYWORDS, Collection, Hit, Point, VectorStoreLocked, idf_from

log = logging.getLogger("bookbot")

_RRF_K = 2  # Qdrant's own default, which the server's fusion uses too
# Equal weights tie a dense-only hit and a sparse-only hit at the same rank, and the engine orders ties at
# random: a hair less weight on the sparse side lets the dense one win every tie, the same way each time.
_RRF_WEIGHTS = [1.0, 0.999]
_PAGE = 512
_HAS_DENSE = edge.Filter(must=[edge.HasVectorCondition(DENSE)])
_NO_DENSE = edge.Filter(must_not=[edge.HasVectorCondition(DENSE)])


class EdgeVectors:
    """A VectorStore (lib/index/vectors.py) over a qdrant-edge shard."""

    def __init__(self, folder: Path, name: str, shard: edge.EdgeShard | None):
        self.name = name
        self._folder = folder
        self._shard = shard
        # Counting the points that have an embedding scans them all (2 ms at 10,000): kept until the next write,
        # which only this process can make (the folder is locked).
        self._described: Collection | None = None

    @classmethod
    def open(cls, folder: Path, name: str) -> "EdgeVectors":
        """The collection in `folder`, opened (and locked) when it exists, else made on `create`."""
        shard = _load(folder / "shard") if (folder / "shard" / "edge_config.json").exists() else None
        return cls(folder, name, shard)

    async def describe(self) -> Collection | None:
        if self._shard is None:
            return None
        if self._described is None:
            self._described = self._describe()
        return self._described

    def _describe(self) -> Collection:
        metadata = self._metadata()
        dense_size = metadata.get("dense_size")
        return Collection(
            name=self.name,
            points=self._shard.count(edge.CountRequest()),
            dense_size=dense_size,
            dense_model=metadata.get("dense_model"),
            index_version=metadata.get("index_version"),
            dense_points=self._shard.count(edge.CountRequest(filter=_HAS_DENSE)) if dense_size else 0,
            metadata=metadata,
        )

    async def create(self, dense_size: int | None) -> None:
        self._described = None
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        shutil.rmtree(self._folder, ignore_errors=True)
        config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dense_size, distance=edge.Distance.Cosine)} if dense_size else {},
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            # Never build an HNSW graph: exact search is fast enough at the sizes a book has, and building one
            # would hold the process (and the GIL) for a minute at 50,000 chunks.
            optimizers=edge.EdgeOptimizersConfig(indexing_threshold=0),
        )
        self._folder.mkdir(parents=True, exist_ok=True)
        self._write_metadata({"dense_size": dense_size})
        self._shard = edge.EdgeShard.create(str(self._folder / "shard"), config)
        for key in KEYWORDS:
            self._shard.update(edge.UpdateOperation.create_field_index(key, edge.PayloadSchemaType.Keyword))

    async def payloads(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        offset = None
        while self._shard is not None:
            records, offset = self._shard.scroll(
                edge.ScrollRequest(limit=_PAGE, offset=offset, with_payload=True, with_vector=False)
            )
            found.update({str(record.id): dict(record.payload or {}) for record in records})
            if offset is None:
                break
        return found

    async def upsert(self, points: Sequence[Point]) -> None:
        self._described = None
        self._shard.update(edge.UpdateOperation.upsert_points([_point(point) for point in points]))

    async def set_payload(self, point_id: str, payload: Mapping[str, Any]) -> None:
        self._described = None
        self._shard.update(edge.UpdateOperation.overwrite_payload([point_id], dict(payload)))

    async def delete(self, ids: Sequence[str]) -> None:
        self._described = None
        if ids:
            self._shard.update(edge.UpdateOperation.delete_points(list(ids)))

    async def set_dense(self, embeddings: Mapping[str, Sequence[float]]) -> None:
        self._described = None
        vectors = [edge.PointVectors(point_id, {DENSE: list(vector)}) for point_id, vector in embeddings.items()]
        self._shard.update(edge.UpdateOperation.update_vectors(vectors))

    async def missing_dense(self, limit: int) -> list[tuple[str, dict]]:
        if self._shard is None:
            return []
        request = edge.ScrollRequest(limit=limit, filter=_NO_DENSE, with_payload=True, with_vector=False)
        records, _ = self._shard.scroll(request)
        return [(str(record.id), dict(record.payload or {})) for record in records]

    async def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        self._described = None
        self._write_metadata({**dict(metadata), "dense_size": self._metadata().get("dense_size")})

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
        if self._shard is None or (sparse is None and dense is None):
            return []
        only = edge.Filter(must=[edge.FieldCondition(key="book", match=edge.MatchValue(book))]) if book else None
        vectors = [DENSE] if with_dense and dense is not None else False
        if sparse is not None and dense is not None:
            prefetches = [
                edge.Prefetch(limit=depth or limit, query=edge.Query.Nearest(list(dense), using=DENSE)),
                edge.Prefetch(limit=depth or limit, query=edge.Query.Nearest(_sparse(sparse), using=SPARSE)),
            ]
            request = edge.QueryRequest(
                limit=limit,
                prefetches=prefetches,
                query=edge.Fusion.Rrf(k=_RRF_K, weights=_RRF_WEIGHTS),
                filter=only,
                with_payload=True,
                with_vector=vectors,
            )
        else:
            query = edge.Query.Nearest(list(dense), using=DENSE) if dense is not None else edge.Query.Nearest(_sparse(sparse), using=SPARSE)
            request = edge.QueryRequest(limit=limit, query=query, filter=only, with_payload=True, with_vector=vectors)
        return [_hit(point) for point in self._shard.query(request)]

    async def idf(self, indices: Sequence[int]) -> dict[int, float]:
        if self._shard is None or not indices:
            return {}
        requests = [
            edge.QueryRequest(
                limit=1,
                query=edge.Query.Nearest(edge.SparseVector([index], [1.0]), using=SPARSE),
                with_payload=False,
                with_vector=[SPARSE],
            )
            for index in indices
        ]
        batch = self._shard.query_batch(edge.QueryBatchRequest(requests))
        found = {index: idf_from(index, best) for index, best in zip(indices, batch)}
        return {index: idf for index, idf in found.items() if idf is not None}

    async def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()

    async def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None

    def _metadata(self) -> dict:
        try:
            return json.loads((self._folder / "collection.json").read_text())
        except (OSError, ValueError):
            return {}

    def _write_metadata(self, metadata: dict) -> None:
        """Written whole to a new file, then renamed over the old: a crash leaves one or the other."""
        staged = self._folder / "collection.json.new"
        with open(staged, "w") as out:
            json.dump(metadata, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, self._folder / "collection.json")


def _load(folder: Path) -> edge.EdgeShard:
    try:
        return edge.EdgeShard.load(str(folder))
    except Exception as error:
        if "WouldBlock" in str(error):
            raise VectorStoreLocked(
                f"the vector folder {folder.parent} is in use by another process; "
                "stop it, point DATA_DIR elsewhere, or use a Qdrant server with QDRANT_URL"
            ) from None
        raise


def _sparse(vector: Sparse) -> edge.SparseVector:
    return edge.SparseVector(list(vector.indices), list(vector.values))


def _point(point: Point) -> edge.Point:
    """An engine point; a malformed sparse vector is refused here, since the engine would panic on it."""
    sparse = point.sparse
    if len(sparse.indices) != len(sparse.values) or len(set(sparse.indices)) != len(sparse.indices):
        raise ValueError(f"point {point.id}: a sparse vector needs as many values as unique indices")
    if not math.isfinite(sum(sparse.values)):  # a NaN or an infinity anywhere makes the sum one
        raise ValueError(f"point {point.id}: a sparse vector's weights must be finite")
    vectors: dict[str, Any] = {SPARSE: _sparse(sparse)}
    if point.dense is not None:
        vectors[DENSE] = list(point.dense)
    return edge.Point(str(uuid.UUID(point.id)), vectors, dict(point.payload))


def _hit(point) -> Hit:
    dense = (point.vector or {}).get(DENSE) if point.vector else None
    return Hit(id=str(point.id), score=point.score, payload=point.payload or {}, dense=dense)
