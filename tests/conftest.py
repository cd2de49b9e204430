"""Fixtures shared by every test: a real PostgreSQL, one fresh database per test."""

from __future__ import annotations

import os
import shutil
from typing import Iterator

import attrs
import pytest

from lib.config import Config
from tests.fakes.openai_server import FakeOpenAI
from tests.parts import index_book
from tests.pg import Cluster, fresh_database


@pytest.fixture(scope="session")
def anyio_backend():
    """Async tests (pytest.mark.anyio) run on asyncio, as uvicorn does."""
    return "asyncio"


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway cluster for the session; fails loudly when PostgreSQL isn't installed."""
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def pg_server_url(request) -> str:
    """TEST_DATABASE_URL when set, else the throwaway cluster's URL."""
    return os.environ.get("TEST_DATABASE_URL") or request.getfixturevalue("pg_cluster").url


@pytest.fixture
def database_url(pg_server_url) -> Iterator[str]:
    """The URL of a database created for this test alone."""
    with fresh_database(pg_server_url) as url:
        yield url


# The service's parts: the bundled book indexed once per session, a loopback OpenAI, configs.


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(openai_server) -> FakeOpenAI:
    """The loopback OpenAI, reset for this test."""
    openai_server.reset()
    return openai_server


@pytest.fixture(scope="session")
def sparse_index(tmp_path_factory) -> Config:
    """The bundled book indexed without a model: sparse vectors only."""
    config = Config(data_dir=tmp_path_factory.mktemp("sparse"), index_on_start=False, embeddings="none")
    index_book(config)
    return config


@pytest.fixture(scope="session")
def server_index(tmp_path_factory) -> Config:
    """The bundled book indexed without a model into Qdrant's local mode, as a Qdrant server holds it."""
    config = Config(data_dir=tmp_path_factory.mktemp("server"), index_on_start=False, embeddings="none")
    index_book(config, server=True)
    return config


@pytest.fixture(scope="session")
def dense_index(tmp_path_factory, openai_server) -> Config:
    """The bundled book indexed with the loopback OpenAI's embeddings as well."""
    config = Config(data_dir=tmp_path_factory.mktemp("dense"), openai_base_url=openai_server.base_url, index_on_start=False)
    index_book(config)
    return config


@pytest.fixture
def config_for(tmp_path):
    """A config over a private copy of an indexed book: config_for(sparse_index, top_k=3, ...)."""
    made = []

    def make(index: Config, **changes) -> Config:
        data_dir = tmp_path / f"data-{len(made)}"
        made.append(data_dir)
        shutil.copytree(index.data_dir, data_dir)
        return attrs.evolve(index, data_dir=data_dir, **changes)

    return make
