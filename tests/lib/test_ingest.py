"""python -m lib.ingest on a site root: its books indexed with their addresses, values given by flag, clear stops."""

from __future__ import annotations

import asyncio

import pytest

from lib import ingest
from lib.config import Config
from lib.index.vectors import open_vectors
from tests.sitebuild import FIXTURE_SITE


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QDRANT_URL", "BOOK_URL", "BOOK_BASE_URL", "BOOK_ROUTE_BASE_PATH", "BOOK_TRAILING_SLASH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EMBEDDINGS", "none")
    return tmp_path / "data"


def payloads(data_dir) -> list[dict]:
    async def read():
        vectors = open_vectors(Config(data_dir=data_dir))
        try:
            return list((await vectors.payloads()).values())
        finally:
            await vectors.close()

    return asyncio.run(read())


def test_a_site_root_is_indexed_with_each_books_id_and_absolute_links(data_dir, capsys):
    assert ingest.main([str(FIXTURE_SITE)]) == 0
    said = capsys.readouterr()
    assert "book 'guide': 9 docs" in said.err and "chunks added: 81" in said.out
    found = {(payload["book"], payload["url"]) for payload in payloads(data_dir)}
    assert ("default", "https://example.org/base/handbook/beds#bed-widths") in found
    assert ("guide", "https://example.org/base/guide/tools/Wheel%20Barrows#tyre-pressure") in found


def test_flags_replace_the_configs_values_and_a_second_run_only_relinks(data_dir, capsys):
    ingest.main([str(FIXTURE_SITE)])
    assert ingest.main([str(FIXTURE_SITE), "--site-url", "http://localhost:3000", "--trailing-slash", "true"]) == 0
    assert "chunks added: 0, updated: 81, removed: 0" in capsys.readouterr().out  # no chunk embedded again
    assert "http://localhost:3000/base/handbook/beds/#bed-widths" in {payload["url"] for payload in payloads(data_dir)}


def test_a_computed_value_exits_2_naming_it_and_the_flag_and_writes_nothing(data_dir, tmp_path, capsys):
    (tmp_path / "site" / "docs").mkdir(parents=True)
    (tmp_path / "site" / "docs" / "intro.md").write_text("# Intro\n\nText.\n")
    (tmp_path / "site" / "docusaurus.config.js").write_text(
        "module.exports = {url: process.env.SITE_URL, baseUrl: '/', presets: ['classic']};\n"
    )
    assert ingest.main([str(tmp_path / "site")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "url is computed, `process.env.SITE_URL`" in error and "--site-url" in error
    assert payloads(data_dir) == []
    assert ingest.main([str(tmp_path / "site"), "--site-url", "https://garden.example"]) == 0


def test_no_pages_exits_2_and_leaves_the_collection_as_it_was(data_dir, tmp_path, capsys):
    ingest.main([str(FIXTURE_SITE)])
    (tmp_path / "empty").mkdir()
    assert ingest.main([str(tmp_path / "empty")]) == 2
    assert "no pages found" in capsys.readouterr().err
    assert len(payloads(data_dir)) == 81


def test_a_bad_flag_value_is_refused_by_the_parser(data_dir, capsys):
    with pytest.raises(SystemExit) as stopped:
        ingest.main([str(FIXTURE_SITE), "--site-url", "https://example.org/base/"])
    assert stopped.value.code == 2
    assert "--site-url: must be the site's address without a path" in capsys.readouterr().err
