"""Indexing a book: deterministic ids, incremental runs, embeddings in batches, and the CLI.

Each test runs on both engines: the embedded one (qdrant-edge, the default) and a Qdrant server through
qdrant-client (whose local mode stands in for the server: there is none here).
"""

import asyncio
import shutil
import subprocess
import sys

import attrs
import pytest
from qdrant_client import AsyncQdrantClient

from handlers import query
from handlers.query import QueryRequest
from lib.clients import open_openai
from lib.config import Config
from lib.index.embedding import open_embedder
from lib.index.indexer import (
    CollectionMismatch,
    Summary,
    fill_embeddings,
    index_sources,
)
from lib.index.qdrant_server import QdrantServerVectors
from lib.index.vectors import open_vectors
from tests.parts import BOOK, pool
from tests.service import REPO


@pytest.fixture(params=["edge", "server"])
def engine(request):
    """open(config) -> the vector store of the engine under test."""
    if request.param == "edge":
        return open_vectors
    return lambda config: QdrantServerVectors(AsyncQdrantClient(path=str(config.qdrant_path)), config.qdrant_collection_name)


@pytest.fixture
def book(tmp_path):
    """A private copy of the bundled book, to change."""
    copy = tmp_path / "book"
    shutil.copytree(BOOK, copy)
    return copy


def index(engine, config: Config, book, **options) -> Summary:
    """Index and embed, as `python -m lib.ingest` does."""

    async def run():
        vectors = engine(config)
        client = open_openai(config)
        embedder = open_embedder(config, client)
        try:
            summary = await index_sources([str(book)], vectors=vectors, embedder=embedder, config=config, **options)
            if embedder is not None and not options.get("dry_run"):
                summary.embedded = await fill_embeddings(vectors, embedder)
            return summary
        finally:
            await vectors.close()
            if client is not None:
                await client.close()

    return asyncio.run(run())


def points(engine, config: Config) -> dict[str, dict]:
    async def run():
        vectors = engine(config)
        try:
            return await vectors.payloads()
        finally:
            await vectors.close()

    return asyncio.run(run())


def test_a_second_run_over_an_unchanged_book_embeds_and_writes_nothing(engine, tmp_path, book, fake_openai):
    config = Config(data_dir=tmp_path / "data", openai_base_url=fake_openai.base_url)
    first = index(engine, config, book)
    embedded = len(fake_openai.calls("embeddings"))
    before = points(engine, config)
    second = index(engine, config, book)
    assert first.added == len(before) == first.embedded > 100
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, first.added)
    assert second.embedded == 0 and len(fake_openai.calls("embeddings")) == embedded
    assert points(engine, config) == before and second.index_version == first.index_version


def test_embeds_in_batches_with_several_in_flight(engine, tmp_path, book, fake_openai):
    config = Config(data_dir=tmp_path / "data", openai_base_url=fake_openai.base_url)
    summary = index(engine, config, book)
    batches = [call["input"] for call in fake_openai.calls("embeddings")][1:]  # the first asks the model its size
    assert sum(len(batch) for batch in batches) == summary.added and max(len(batch) for batch in batches) <= 64
    assert len(batches) >= 3


def test_a_changed_file_re_embeds_only_its_changed_chunks(engine, tmp_path, book, fake_openai):
    config = Config(data_dir=tmp_path / "data", openai_base_url=fake_openai.base_url)
    index(engine, config, book)
    page = book / "how-it-works" / "01-ingestion.md"
    page.write_text(page.read_text().replace("### Splitting by size", "### Splitting by size\n\nA new first sentence."))
    fake_openai.reset()
    summary = index(engine, config, book)
    [changed] = [call["input"] for call in fake_openai.calls("embeddings")]
    assert summary.added == len(changed) == 1 and summary.removed == 1
    assert "A new first sentence." in changed[0]


def test_a_deleted_file_loses_its_chunks(engine, tmp_path, book):
    config = Config(data_dir=tmp_path / "data", embeddings="none")
    index(engine, config, book)
    gone = [p for p in points(engine, config).values() if p["source"] == "troubleshooting.md"]
    (book / "troubleshooting.md").unlink()
    summary = index(engine, config, book)
    assert summary.removed == len(gone) > 0 and summary.added == 0
    assert not [p for p in points(engine, config).values() if p["source"] == "troubleshooting.md"]


def test_a_dry_run_shows_the_changes_and_writes_nothing(engine, tmp_path, book):
    config = Config(data_dir=tmp_path / "data", embeddings="none")
    planned = index(engine, config, book, dry_run=True)
    assert planned.added > 100
    async def described():
        vectors = engine(config)
        try:
            return await vectors.describe()
        finally:
            await vectors.close()
    assert asyncio.run(described()) is None


def test_a_bad_file_is_reported_and_its_chunks_kept(engine, tmp_path, book):
    config = Config(data_dir=tmp_path / "data", embeddings="none")
    index(engine, config, book)
    kept = [p for p in points(engine, config).values() if p["source"] == "intro.md"]
    (book / "intro.md").write_text("---\ntitle: unclosed front matter\n")
    summary = index(engine, config, book)
    assert summary.removed == 0 and summary.files == 12
    assert len(summary.skipped) == 1 and summary.skipped[0].startswith("intro.md")
    assert [p for p in points(engine, config).values() if p["source"] == "intro.md"] == kept


def test_survives_rate_limits_from_the_embedder(engine, tmp_path, book, fake_openai):
    config = Config(data_dir=tmp_path / "data", openai_base_url=fake_openai.base_url)
    fake_openai.fail_next(status=429, times=1, path="embeddings")
    summary = index(engine, config, book)
    assert summary.added == len(points(engine, config)) > 100


def test_refuses_to_mix_vectors_of_another_model_without_recreate(engine, tmp_path, book, fake_openai):
    config = Config(data_dir=tmp_path / "data", embeddings="none")
    index(engine, config, book)
    dense = attrs.evolve(config, openai_base_url=fake_openai.base_url, embeddings="auto")
    with pytest.raises(CollectionMismatch) as caught:
        index(engine, dense, book)
    assert "--recreate" in str(caught.value)
    assert index(engine, dense, book, recreate=True).added == len(points(engine, config))


def run_cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "lib.ingest", *args], cwd=REPO, env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True, text=True, timeout=120,
    )


def test_the_command_indexes_then_finds_nothing_to_do(tmp_path, book):
    env = {"DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS": "none"}
    first = run_cli(str(book), env=env)
    second = run_cli(str(book), "--dry-run", env=env)
    assert first.returncode == 0, first.stderr
    assert "chunks added: 1" in first.stdout and "chunks embedded: 0" in first.stdout
    assert second.returncode == 0 and "dry run" in second.stdout and "chunks added: 0, updated: 0, removed: 0" in second.stdout


def test_the_command_exits_non_zero_when_a_file_was_skipped(tmp_path, book):
    (book / "broken.md").write_text("---\ntitle: never closed\n")
    result = run_cli(str(book), env={"DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS": "none"})
    assert result.returncode == 1 and "broken.md" in result.stderr and "chunks added:" in result.stdout


def test_the_command_says_clearly_when_the_service_holds_the_embedded_store(tmp_path, book):
    config = Config(data_dir=tmp_path / "data", embeddings="none")
    index(open_vectors, config, book)
    holder = open_vectors(config)
    try:
        result = run_cli(str(book), env={"DATA_DIR": str(config.data_dir), "EMBEDDINGS": "none"})
    finally:
        asyncio.run(holder.close())
    assert result.returncode == 2 and "in use by another process" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.anyio
async def test_the_service_indexes_its_book_in_the_background_on_start(tmp_path, book):
    config = Config(data_dir=tmp_path / "data", book_dir=book, embeddings="none")
    async with pool(config) as clients:
        assert clients.background
        await asyncio.wait_for(asyncio.gather(*clients.background), 60)
        collection = await clients.vectors.describe()
    assert collection.points > 100 and collection.metadata["sources"] == [str(book.resolve())]
    assert collection.metadata["state"] == "ready"


@pytest.mark.anyio
async def test_the_service_indexes_a_site_root_in_book_dir_with_book_url_in_its_links(tmp_path):
    from tests.sitebuild import FIXTURE_SITE

    config = Config(data_dir=tmp_path / "data", book_dir=FIXTURE_SITE, book_url="https://garden.example", embeddings="none")
    async with pool(config) as clients:
        await asyncio.wait_for(asyncio.gather(*clients.background), 60)
        found = await clients.vectors.payloads()
    assert {payload["book"] for payload in found.values()} == {"default", "guide"}
    assert all(payload["url"].startswith("https://garden.example/base/") for payload in found.values())


@pytest.mark.anyio
async def test_a_question_answered_in_a_sub_section_links_to_that_sub_section_first(config_for, sparse_index):
    async with pool(config_for(sparse_index)) as clients:
        reply = await query.handle(QueryRequest.from_json({"query": "How are headings turned into anchors in the links?"}), clients)
    assert reply.body["sources"][0]["url"] == "/docs/how-it-works/ingestion#heading-anchors"


def test_indexes_a_live_site_by_its_sitemap_and_links_its_sections(engine, tmp_path):
    import responses

    from tests.lib.book.test_crawl import HTML, SITE, doc_html, sitemap

    config = Config(data_dir=tmp_path / "data", embeddings="none")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as site:
        site.add(responses.GET, SITE + "/robots.txt", status=404)
        site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/intro", SITE + "/docs/gone"))
        site.add(responses.GET, SITE + "/docs/intro", body=doc_html("Intro", "Robots walk on legs."), content_type=HTML)
        site.add(responses.GET, SITE + "/docs/gone", status=404)
        summary = index(engine, config, SITE)
    assert summary.files == 2 and len(summary.skipped) == 1 and "/docs/gone" in summary.skipped[0]
    urls = sorted(payload["url"] for payload in points(engine, config).values())
    assert urls == [SITE + "/docs/intro", SITE + "/docs/intro#details"]
