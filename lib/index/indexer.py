"""Bring a Qdrant collection in line with a book's chunks, re-embedding only what changed.

Point ids are derived from a chunk's source file and content hash, so an
unchanged chunk keeps its id (and its vectors) wherever it moves in the file.
A run first plans (what to add, update and remove), then embeds everything
new, and only then writes: a failure while embedding leaves the collection
as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
import warnings
from array import array
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

import openai
from attrs import define, field, frozen
from qdrant_client import AsyncQdrantClient, models

from lib import monitoring
from lib.book.books import read_source
from lib.book.chunking import Chunk, chunk_page
from lib.book.pages import PageError
from lib.book.site import Overrides
from lib.config import Config
from lib.index import sparse
from lib.index.sparse import DENSE, SPARSE

log = logging.getLogger("bookbot")

_NAMESPACE = uuid.UUID("6f1c9e52-3b0e-4f7a-9a53-1d2b8c4e7f10")
EMBED_BATCH = 64
EMBED_IN_FLIGHT = 4
UPSERT_BATCH = 128


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
    embedding_tokens: int = 0
    seconds: float = 0.0
    index_version: str | None = None

    def lines(self) -> str:
        return (
            f"files seen: {self.files}, skipped: {len(self.skipped)}\n"
            f"chunks added: {self.added}, updated: {self.updated}, removed: {self.removed}, unchanged: {self.unchanged}\n"
            f"embedding tokens spent: {self.embedding_tokens}\n"
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


async def _existing(qdrant: AsyncQdrantClient, name: str) -> dict[str, dict]:
    points: dict[str, dict] = {}
    offset = None
    while True:
        batch, offset = await qdrant.scroll(name, limit=512, offset=offset, with_payload=True, with_vectors=False)
        points.update({str(point.id): point.payload or {} for point in batch})
        if offset is None:
            return points


async def _embed_all(
    client: openai.AsyncOpenAI, model: str, texts: list[str], progress: Callable[[str], None]
) -> tuple[list[array], int]:
    """Embeddings in batches, several in flight; the SDK retries 429 and 5xx with backoff.

    Each vector is kept as 4-byte floats, the API's own precision: a book's
    vectors wait here until the collection is known to take them, and as
    lists of Python floats 5,000 of them took a quarter of a gigabyte.
    """
    batches = [texts[start : start + EMBED_BATCH] for start in range(0, len(texts), EMBED_BATCH)]
    gate = asyncio.Semaphore(EMBED_IN_FLIGHT)
    done = 0

    async def one(batch: list[str]) -> tuple[list[array], int]:
        nonlocal done
        async with gate:
            response = await client.embeddings.create(model=model, input=batch)
        done += len(batch)
        progress(f"embedded {done}/{len(texts)} chunks")
        vectors = [array("f", item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        return vectors, response.usage.total_tokens if response.usage else 0

    results = await asyncio.gather(*(one(batch) for batch in batches))
    return [vector for vectors, _ in results for vector in vectors], sum(tokens for _, tokens in results)


async def _check_collection(qdrant, name: str, config: Config, use_dense: bool) -> int | None:
    """The dense size of an existing collection, if it can take this run's vectors; else say why not."""
    info = await qdrant.get_collection(name)
    vectors = info.config.params.vectors
    current = vectors.get(DENSE) if isinstance(vectors, dict) else None
    current_model = (info.config.metadata or {}).get("dense_model")
    if bool(current) != use_dense or (use_dense and current_model != config.openai_embedding_model):
        holds = f"dense vectors of {current_model}" if current else "no dense vectors"
        makes = f"vectors of {config.openai_embedding_model}" if use_dense else "none (no OpenAI configured)"
        raise CollectionMismatch(f"collection {name} holds {holds}, but this run makes {makes}; run again with --recreate")
    return current.size if current else None


async def _create_collection(qdrant, name: str, dense_size: int | None) -> None:
    await qdrant.create_collection(
        name,
        vectors_config={DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)} if dense_size else {},
        sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    with warnings.catch_warnings():  # Qdrant's local mode warns that it has no use for them
        warnings.simplefilter("ignore", UserWarning)
        for key in ("source", "content_hash", "book"):
            await qdrant.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)


async def index_chunks(
    chunks: Sequence[Chunk],
    *,
    qdrant: AsyncQdrantClient,
    embedder: openai.AsyncOpenAI | None,
    config: Config,
    collection: str,
    sources: Sequence[str],
    keep_sources: Iterable[str] = (),
    dry_run: bool = False,
    recreate: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> Summary:
    """Make the collection hold exactly these chunks; points of `keep_sources` (files that failed) stay."""
    started = time.perf_counter()
    summary = Summary()
    use_dense = embedder is not None and config.dense_enabled
    planned = point_ids(chunks)
    wanted = {item.point_id: item for item in planned}
    exists = not recreate and await qdrant.collection_exists(collection)
    dense_size = await _check_collection(qdrant, collection, config, use_dense) if exists else None
    existing = await _existing(qdrant, collection) if exists else {}
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
    if dry_run or (exists and not (to_add or to_update or to_remove)):
        summary.seconds = time.perf_counter() - started
        return summary

    vectors: list[array] = []
    if use_dense:
        texts = [item.chunk.embed_text for item in to_add] or ["dimension probe"]
        vectors, summary.embedding_tokens = await _embed_all(embedder, config.openai_embedding_model, texts, progress)
        if dense_size is not None and len(vectors[0]) != dense_size:
            raise CollectionMismatch(
                f"collection {collection} holds vectors of size {dense_size}, the model makes {len(vectors[0])}; "
                "run again with --recreate"
            )
        dense_size = len(vectors[0])
    if not exists:
        if recreate and await qdrant.collection_exists(collection):
            await qdrant.delete_collection(collection)
        await _create_collection(qdrant, collection, dense_size)

    for start in range(0, len(to_add), UPSERT_BATCH):
        batch = to_add[start : start + UPSERT_BATCH]
        points = []
        for offset, item in enumerate(batch):
            vector = {SPARSE: sparse.document_vector(item.chunk.embed_text)}
            if use_dense:
                vector[DENSE] = vectors[start + offset].tolist()
            points.append(models.PointStruct(id=item.point_id, vector=vector, payload=item.payload))
        await qdrant.upsert(collection, points=points, wait=True)
        progress(f"wrote {min(start + UPSERT_BATCH, len(to_add))}/{len(to_add)} new chunks")
    for item in to_update:
        await qdrant.set_payload(collection, payload=item.payload, points=[item.point_id], wait=True)
    if to_remove:
        await qdrant.delete(collection, points_selector=models.PointIdsList(points=to_remove), wait=True)
    await qdrant.update_collection(
        collection,
        metadata={
            "index_version": summary.index_version,
            "dense_model": config.openai_embedding_model if use_dense else None,
            "chunk_size": config.chunk_size,
            "chunk_overlap": config.chunk_overlap,
            "sources": list(sources),
            "indexed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    summary.seconds = time.perf_counter() - started
    return summary


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
    qdrant: AsyncQdrantClient,
    embedder: openai.AsyncOpenAI | None,
    config: Config,
    collection: str | None = None,
    report: Callable[[str], None] = lambda message: None,
    **options,
) -> Summary:
    """Read, chunk and index folders and sites; the summary also counts the files, and those skipped."""
    pages, failed = await asyncio.to_thread(load_pages, sources, config, report)
    chunks = await asyncio.to_thread(chunks_of, pages, config)
    summary = await index_chunks(
        chunks,
        qdrant=qdrant,
        embedder=embedder,
        config=config,
        collection=collection or config.qdrant_collection_name,
        sources=[canonical(source) for source in sources],
        keep_sources=[error.source for error in failed],
        progress=report,
        **options,
    )
    summary.files = len(pages) + len(failed)
    summary.skipped = [str(error) for error in failed]
    return summary


async def index_on_start(clients) -> None:
    """Index BOOK_DIR in the background when the collection is empty or holds an older state of it.

    A collection that holds another book (indexed by hand from other sources)
    is left alone.
    """
    config = clients.config
    book = config.book_dir.resolve()
    if clients.qdrant is None or not book.is_dir():
        return
    name = config.qdrant_collection_name
    try:
        if await clients.qdrant.collection_exists(name):
            info = await clients.qdrant.get_collection(name)
            sources = (info.config.metadata or {}).get("sources")
            if info.points_count and sources != [str(book)]:
                log.info("collection %s holds another book (%s); BOOK_DIR is not indexed", name, sources)
                return
        clients.indexing = f"indexing {book}"
        clients.caches.index_changed()
        summary = await index_sources(
            [str(book)], qdrant=clients.qdrant, embedder=clients.openai, config=config, report=log.warning
        )
        log.info("indexed the book", extra={"summary": summary.lines()})
        clients.metrics.indexed(summary.added, summary.updated, summary.removed)
        clients.metrics.tokens(config.openai_embedding_model, summary.embedding_tokens)
    except Exception as error:
        log.exception("indexing the book at start-up failed")
        clients.metrics.index_failed()
        monitoring.report_error(error)
    finally:
        clients.indexing = None
        clients.caches.index_changed()
