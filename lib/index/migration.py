"""A DATA_DIR from before the embedded engine: its collection, kept by qdrant-client's local mode in
DATA_DIR/qdrant, is copied into the engine once, points, vectors and metadata, with a log line."""

from __future__ import annotations

import asyncio
import logging

from lib.config import Config
from lib.index.sparse import DENSE, SPARSE, Sparse
from lib.index.vectors import Point, VectorStore

log = logging.getLogger("bookbot")

_PAGE = 256


async def migrate_local_mode(config: Config, vectors: VectorStore) -> int:
    """Copy the local mode's collection into `vectors` when only the local mode has it; return how many points."""
    name = config.qdrant_collection_name
    if not (config.qdrant_path / "collection" / name).is_dir() or await vectors.describe() is not None:
        return 0
    dense_size, metadata, points = await asyncio.to_thread(_read, config)
    await vectors.create(dense_size)
    for start in range(0, len(points), _PAGE):
        await vectors.upsert(points[start : start + _PAGE])
    await vectors.set_metadata(metadata)
    await vectors.flush()
    log.info(
        "migrated %d points of collection %s from Qdrant's local mode (%s) to the embedded engine (%s); "
        "the old folder is left as it was and may be deleted",
        len(points), name, config.qdrant_path, config.vectors_path,
    )
    return len(points)


def _read(config: Config) -> tuple[int | None, dict, list[Point]]:
    from qdrant_client import (
        QdrantClient,  # only a DATA_DIR from before the embedded engine needs it
    )

    name = config.qdrant_collection_name
    client = QdrantClient(path=str(config.qdrant_path))
    try:
        info = client.get_collection(name)
        vectors = info.config.params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        points, offset = [], None
        while True:
            batch, offset = client.scroll(name, limit=_PAGE, offset=offset, with_payload=True, with_vectors=True)
            for record in batch:
                stored = record.vector or {}
                terms = stored.get(SPARSE)
                points.append(
                    Point(
                        id=str(record.id),
                        payload=record.payload or {},
                        sparse=Sparse(tuple(terms.indices), tuple(terms.values)) if terms else Sparse((), ()),
                        dense=stored.get(DENSE),
                    )
                )
            if offset is None:
                break
        metadata = {**(info.config.metadata or {}), "state": "ready"}
        return (dense.size if dense else None), metadata, points
    finally:
        client.close()
