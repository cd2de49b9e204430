"""lib/index/edge.py: the embedded engine's collection, its metadata beside it, its lock, its refusals."""

from __future__ import annotations

import pytest

from lib.index.edge import EdgeVectors
from lib.index.sparse import Sparse, document_vector
from lib.index.vectors import Point, VectorStoreLocked

pytestmark = pytest.mark.anyio
ID = "8a55bf7e-f918-5b8c-adf3-911b8435d447"


async def test_keeps_points_and_metadata_across_a_reopening(tmp_path):
    vectors = EdgeVectors.open(tmp_path / "books", "books")
    assert await vectors.describe() is None
    await vectors.create(dense_size=3)
    await vectors.set_metadata({"index_version": "v1", "sources": ["/book"]})
    await vectors.upsert([Point(ID, {"text": "robots walk", "book": "a"}, document_vector("robots walk"))])
    await vectors.set_dense({ID: [1.0, 0.0, 0.0]})
    await vectors.close()
    again = EdgeVectors.open(tmp_path / "books", "books")
    try:
        collection = await again.describe()
        hits = await again.search(limit=3, dense=[1.0, 0.0, 0.0], with_dense=True, book="a")
        none = await again.search(limit=3, sparse=document_vector("robots"), book="b")
    finally:
        await again.close()
    assert (collection.points, collection.dense_points, collection.dense_size) == (1, 1, 3)
    assert collection.index_version == "v1" and collection.metadata["sources"] == ["/book"]
    assert [hit.id for hit in hits] == [ID] and hits[0].dense == pytest.approx([1.0, 0.0, 0.0])
    assert none == []


async def test_a_second_opening_of_the_folder_says_who_holds_it(tmp_path):
    first = EdgeVectors.open(tmp_path / "books", "books")
    await first.create(dense_size=None)
    try:
        with pytest.raises(VectorStoreLocked, match="in use by another process"):
            EdgeVectors.open(tmp_path / "books", "books")
    finally:
        await first.close()


async def test_refuses_a_malformed_sparse_vector_before_the_engine_sees_it(tmp_path):
    vectors = EdgeVectors.open(tmp_path / "books", "books")
    await vectors.create(dense_size=None)
    try:
        with pytest.raises(ValueError, match="unique indices"):
            await vectors.upsert([Point(ID, {}, Sparse((1, 2), (1.0,)))])
        with pytest.raises(ValueError, match="finite"):
            await vectors.upsert([Point(ID, {}, Sparse((1,), (float("nan"),)))])
        await vectors.upsert([Point(ID, {"ok": True}, Sparse((1,), (1.0,)))])  # the engine still takes a good one
        assert (await vectors.describe()).points == 1
    finally:
        await vectors.close()
