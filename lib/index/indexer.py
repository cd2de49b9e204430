"""Bring the vector collection in line with a book's chunks: searchable at once, embedded as it goes.

Point ids are derived from a chunk's source file and content hash, so an
unchanged chunk keeps its id (and its embedding) wherever it moves in the file.
A run plans what to add, update and remove, then writes every new chunk with
its sparse vector alone: in seconds the book can be searched and answered
from. `fill_embeddings` then gives the points their dense embeddings, batch
by batch, and can stop and take up again at any point.

What the collection is doing is in its metadata, written before the points
it describes: `state` is `indexing` while chunks are written, `embedding`
while points still lack their embedding, `ready` when the book is whole. A run
killed at any point leaves a collection that says which book it holds and
that it is not ready: the next run picks it up where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from attrs import define, field, frozen

from lib.book.books import read_source
from lib.book.chunking import Chunk, chunk_page
from lib.book.pages import PageError
from lib.book.site import Overrides
from lib.config import Config
from lib.index import sparse
from lib.index.embedding import Embedder, EmbeddingFailed, learn_size
from lib.index.vectors import Collection, Point, VectorStore, indexed_text

log = logging.getLogger("bookbot")

_NAMESPACE = uuid.UUID("6f1c9e52-3b0e-4f7a-9a53-1d2b8c4e7f10")
EMBED_BATCH = 32
EMBED_IN_FLIGHT = 4  # batches at once for a remote model; a local one takes them one at a time
UPSERT_BATCH = 128
INDEXING, EMBEDDING, READY = "indexing", "embedding", "ready"


class CollectionMismatch(Exception):
    """Raised when the collection can't take this run's vectors as configured."""


@frozen
class Planned:
    point_id: str
    chunk: Chunk

    @property
    def payload(self) -> dict:
        chunk = self.chunk
        return {
            "title": chunk.title,
            "headings": list(chunk.headings),
            "section": chunk.section,
            "url": chunk.url,
            "source": chunk.source,
            "book": chunk.book,
            "position": chunk.position,
            "content_hash": chunk.content_hash,
            "text": chunk.text,
        }


@define
class Summary:
    files: int = 0
    skipped: list[str] = field(factory=list)
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    seconds: float = 0.0
    index_version: str | None = None

    def lines(self) -> str:
        return (
            f"files seen: {self.files}, skipped: {len(self.skipped)}\n"
            f"chunks added: {self.added}, updated: {self.updated}, removed: {self.removed}, unchanged: {self.unchanged}\n"
            f"chunks embedded: {self.embedded}\n"
            f"index version: {self.index_version}, took {self.seconds:.2f} s"
        )


def point_ids(chunks: Sequence[Chunk]) -> list[Planned]:
    """Deterministic ids: the same text in the same file keeps its id; repeats are numbered."""
    seen: Counter = Counter()
    planned = []
    for chunk in chunks:
        key = (chunk.source, chunk.content_hash)
        planned.append(Planned(str(uuid.uuid5(_NAMESPACE, f"{chunk.source}\n{chunk.content_hash}\n{seen[key]}")), chunk))
        seen[key] += 1
    return planned


def index_version(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


async def _dense_size(embedder: Embedder | None) -> int | None:
    """The embeddings' size, asking the model once when it is not known beforehand; None when it can't tell now."""
    if embedder is None:
        return None
    try:
        return await learn_size(embedder)
    except EmbeddingFailed as error:
        log.warning("the embedding model can't be asked its size now (%s): the book is indexed without embeddings", error)
        return None


def _check(collection: Collection, embedder: Embedder | None) -> None:
    """Refuse to mix embeddings of two models, or of two sizes, in one collection, or to add them to one made
    without (a collection is made with room for its embeddings, or none)."""
    if embedder is None and collection.dense_size is None:
        return
    if embedder is not None and collection.dense_model == embedder.model and embedder.size in (None, collection.dense_size):
        return
    holds = f"embeddings of {collection.dense_model} ({collection.dense_size} dimensions)" if collection.dense_size else "no embeddings"
    makes = f"embeds with {embedder.model}" if embedder is not None else "makes no embeddings"
    raise CollectionMismatch(f"collection {collection.name} holds {holds}, but this run {makes}; run again with --recreate")


def _metadata(config: Config, sources: Sequence[str], state: str, version: str | None, dense_model: str | None) -> dict:
    return {
        "state": state,
        "index_version": version,
        "dense_model": dense_model,
        "chunk_size": config.chunk_size,
        "chunk_overlap": config.chunk_overlap,
        "sources": list(sources),
        "indexed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


async def index_chunks(
    chunks: Sequence[Chunk],
    *,
    vectors: VectorStore,
    embedder: Embedder | None,
    config: Config,
    sources: Sequence[str],
    keep_sources: Iterable[str] = (),
    dry_run: bool = False,
    recreate: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> Summary:
    """Make the collection hold exactly these chunks, each with its sparse vector; points of `keep_sources`
    (files that failed to read) stay. Embeddings are `fill_embeddings`'s."""
    started = time.perf_counter()
    summary = Summary()
    planned = point_ids(chunks)
    wanted = {item.point_id: item for item in planned}
    collection = None if recreate else await vectors.describe()
    if collection is not None:
        _check(collection, embedder)
    existing = await vectors.payloads() if collection is not None else {}
    keep = set(keep_sources)
    to_add = [item for item in planned if item.point_id not in existing]
    to_update = [
        item
        for item in planned
        if item.point_id in existing and any(existing[item.point_id].get(k) != v for k, v in item.payload.items())
    ]
    to_remove = [pid for pid, payload in existing.items() if pid not in wanted and payload.get("source") not in keep]
    summary.added, summary.updated, summary.removed = len(to_add), len(to_update), len(to_remove)
    summary.unchanged = len(planned) - len(to_add) - len(to_update)
    summary.index_version = index_version([*wanted, *(pid for pid, p in existing.items() if p.get("source") in keep)])
    unchanged = collection is not None and not (to_add or to_update or to_remove)
    if dry_run or (unchanged and collection.metadata.get("sources") == list(sources)):
        summary.seconds = time.perf_counter() - started
        return summary

    if collection is None:
        dense_size = await _dense_size(embedder)
        await vectors.create(dense_size)
        dense_model = embedder.model if dense_size else None
    else:
        dense_model = collection.dense_model
    # Said before the first point goes in: a run killed from here on leaves a collection that names its book.
    await vectors.set_metadata(_metadata(config, sources, INDEXING, None, dense_model))
    for start in range(0, len(to_add), UPSERT_BATCH):
        batch = to_add[start : start + UPSERT_BATCH]
        points = [Point(item.point_id, item.payload, sparse.document_vector(item.chunk.embed_text)) for item in batch]
        await vectors.upsert(points)
        progress(f"wrote {min(start + UPSERT_BATCH, len(to_add))}/{len(to_add)} new chunks")
    for item in to_update:
        await vectors.set_payload(item.point_id, item.payload)
    await vectors.delete(to_remove)
    state = EMBEDDING if dense_model else READY
    await vectors.set_metadata(_metadata(config, sources, state, summary.index_version, dense_model))
    await vectors.flush()
    summary.seconds = time.perf_counter() - started
    return summary


async def fill_embeddings(
    vectors: VectorStore, embedder: Embedder, progress: Callable[[int, int], None] = lambda done, total: None
) -> int:
    """Embed every point that has no embedding yet, a batch at a time; return how many were embedded.

    Stops with EmbeddingFailed when the model does: what was embedded stays, and the next call goes on
    from there. `progress(done, total)` follows the collection's points.
    """
    collection = await vectors.describe()
    if collection is None or collection.dense_size is None or collection.dense_points >= collection.points:
        return 0
    embedded, in_flight = 0, EMBED_IN_FLIGHT if embedder.remote else 1
    done = collection.dense_points
    while True:
        missing = await vectors.missing_dense(EMBED_BATCH * in_flight)
        if not missing:
            break
        batches = [missing[start : start + EMBED_BATCH] for start in range(0, len(missing), EMBED_BATCH)]
        results = await asyncio.gather(*(_embedded(embedder, batch) for batch in batches))
        for result in results:
            await vectors.set_dense(result)
            embedded += len(result)
            done += len(result)
        progress(done, collection.points)
    if collection.metadata.get("state") == EMBEDDING:
        await vectors.set_metadata({**collection.metadata, "state": READY})
    await vectors.flush()
    return embedded


async def _embedded(embedder: Embedder, batch: list[tuple[str, dict]]) -> dict[str, Sequence[float]]:
    texts = [indexed_text(payload) for _, payload in batch]
    vectors = await embedder.embed(texts)
    return {point_id: vector for (point_id, _), vector in zip(batch, vectors)}


def chunks_of(pages, config: Config) -> list[Chunk]:
    return [chunk for page in pages for chunk in chunk_page(page, config.chunk_size, config.chunk_overlap)]


def load_pages(sources: Sequence[str], config: Config, report: Callable[[str], None]) -> tuple[list, list]:
    """Pages from site roots, docs folders and site URLs (lib.book.books); each page that fails is reported
    and returned apart. Raises NoPages or SiteError (lib.book) before anything is written."""
    pages, failed = [], []
    for source in sources:
        for item in read_source(source, Overrides.of(config), report):
            if isinstance(item, PageError):
                report(f"skipped {item}")
                failed.append(item)
            else:
                pages.append(item)
    return pages, failed


def canonical(source: str) -> str:
    """How a source is recorded in the collection: a URL as given, a folder as an absolute path."""
    return source if source.startswith(("http://", "https://")) else str(Path(source).resolve())


async def index_sources(
    sources: Sequence[str],
    *,
    vectors: VectorStore,
    embedder: Embedder | None,
    config: Config,
    report: Callable[[str], None] = lambda message: None,
    **options,
) -> Summary:
    """Read, chunk and index folders and sites; the summary also counts the files, and those skipped."""
    pages, failed = await asyncio.to_thread(load_pages, sources, config, report)
    chunks = await asyncio.to_thread(chunks_of, pages, config)
    summary = await index_chunks(
        chunks,
        vectors=vectors,
        embedder=embedder,
        config=config,
        sources=[canonical(source) for source in sources],
        keep_sources=[error.source for error in failed],
        progress=report,
        **options,
    )
    summary.files = len(pages) + len(failed)
    summary.skipped = [str(error) for error in failed]
    return summary
