"""Fixtures shared by every test: a real PostgreSQL, one fresh database per test."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

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
