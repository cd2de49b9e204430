"""The collection on a Qdrant server (QDRANT_URL, e.g. Qdrant Cloud), through qdrant-client.

The tests, with no server here, hand this the client of Qdrant's local mode (`AsyncQdrantClient(path=...)`),
which speaks the same API.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import httpx
from qdrant_client import AsyncQdrantClient, models

from lib.config import Config
from lib.index.sparse import DENSE, SPARSE, Sparse
from lib.index.vectors import KEYWORDS, Collection, Hit, Point, idf_from

_PAGE = 512
_HAS_DENSE = models.Filter(must=[models.HasVectorCondition(has_vector=DENSE)])
_NO_DENSE = models.Filter(must_not=[models.HasVectorCondition(has_vector=DENSE)])


def open_server(config: Config) -> "QdrantServerVectors":
    client = AsyncQdrantClient(
        url=config.qdrant_url,
        api_key=config.qdrant_api_key,
        timeout=int(max(1, config.qdrant_timeout)),
        # The client turns keep-alive off for a server on localhost: a new connection per search.
        # Kept alive for 4 s, under the 5 s after which Qdrant closes an idle connection.
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0),
    )
    return QdrantServerVectors(client, config.qdrant_collection_name)


class QdrantServerVectors:
    """A VectorStore (lib/index/vectors.py) over one collection of a Qdrant server."""

    def __init__(self, client: AsyncQdrantClient, name: str):
        self.name = name
        self._client = client

    async def describe(self) -> Collection | None:
        if not await self._client.collection_exists(self.name):
            return None
        info = await self._client.get_collection(self.name)
        vectors = info.config.params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        metadata = dict(info.config.metadata or {})
        dense_points = (await self._client.count(self.name, count_filter=_HAS_DENSE, exact=True)).count if dense else 0
        return Collection(
            name=self.name,
            points=info.points_count or 0,
            dense_size=dense.size if dense else None,
            dense_model=metadata.get("dense_model"),
            index_version=metadata.get("index_version"),
            dense_points=dense_points,
            metadata=metadata,
        )

    async def create(self, dense_size: int | None) -> None:
        if await self._client.collection_exists(self.name):
            await self._client.delete_collection(self.name)
        await self._client.create_collection(
            self.name,
            vectors_config={DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)} if dense_size else {},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # Qdrant's local mode warns that it has no use for them
            warnings.simplefilter("ignore", UserWarning)
            for key in KEYWORDS:
                await self._client.create_payload_index(self.name, key, models.PayloadSchemaType.KEYWORD)

    async def payloads(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        offset = None
        while True:
            batch, offset = await self._client.scroll(self.name, limit=_PAGE, offset=offset, with_payload=True, with_vectors=False)
            found.update({str(point.id): dict(point.payload or {}) for point in batch})
            if offset is None:
                return found

    async def upsert(self, points: Sequence[Point]) -> None:
        structs = []
        for point in points:
            vector: dict[str, Any] = {SPARSE: _sparse(point.sparse)}
            if point.dense is not None:
                vector[DENSE] = list(point.dense)
            structs.append(models.PointStruct(id=point.id, vector=vector, payload=dict(point.payload)))
        await self._client.upsert(self.name, points=structs, wait=True)

    async def set_payload(self, point_id: str, payload: Mapping[str, Any]) -> None:
        await self._client.overwrite_payload(self.name, payload=dict(payload), points=[point_id], wait=True)

    async def delete(self, ids: Sequence[str]) -> None:
        if ids:
            await self._client.delete(self.name, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    async def set_dense(self, embeddings: Mapping[str, Sequence[float]]) -> None:
        points = [models.PointVectors(id=point_id, vector={DENSE: list(vector)}) for point_id, vector in embeddings.items()]
        await self._client.update_vectors(self.name, points=points, wait=True)

    async def missing_dense(self, limit: int) -> list[tuple[str, dict]]:
        batch, _ = await self._client.scroll(self.name, scroll_filter=_NO_DENSE, limit=limit, with_payload=True, with_vectors=False)
        return [(str(point.id), dict(point.payload or {})) for point in batch]

    async def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        await self._client.update_collection(self.name, metadata=dict(metadata))

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
        if sparse is None and dense is None:
            return []
        only = models.Filter(must=[models.FieldCondition(key="book", match=models.MatchValue(value=book))]) if book else None
        vectors = [DENSE] if with_dense and dense is not None else False
        if sparse is not None and dense is not None:
            prefetch = [
                models.Prefetch(query=list(dense), using=DENSE, limit=depth or limit, filter=only),
                models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=depth or limit, filter=only),
            ]
            result = await self._client.query_points(
                self.name, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=limit, with_payload=True, with_vectors=vectors,
            )
        else:
            query, using = (list(dense), DENSE) if dense is not None else (_sparse(sparse), SPARSE)
            result = await self._client.query_points(
                self.name, query=query, using=using, query_filter=only, limit=limit, with_payload=True, with_vectors=vectors
            )
        return [_hit(point) for point in result.points]

    async def idf(self, indices: Sequence[int]) -> dict[int, float]:
        if not indices:
            return {}
        requests = [
            models.QueryRequest(
                query=models.SparseVector(indices=[index], values=[1.0]), using=SPARSE, limit=1, with_vector=[SPARSE]
            )
            for index in indices
        ]
        responses = await self._client.query_batch_points(self.name, requests=requests)
        found = {index: idf_from(index, response.points) for index, response in zip(indices, responses)}
        return {index: idf for index, idf in found.items() if idf is not None}

    async def flush(self) -> None:
        """Writes wait for the server (`wait=True`): nothing is left to flush."""

    async def close(self) -> None:
        await self._client.close()


def _sparse(vector: Sparse) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _hit(point) -> Hit:
    dense = point.vector.get(DENSE) if isinstance(point.vector, dict) else None
    return Hit(id=str(point.id), score=point.score, payload=point.payload or {}, dense=dense)
