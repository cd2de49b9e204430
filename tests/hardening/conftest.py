"""The service as a host runs it (`python router.py` on loopback), over a private copy of the indexed book."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from lib.config import Config
from tests.service import Service

# Rate limits off unless a test is about them: the other tests send more than a reader would.
NO_LIMITS = {"RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_DAY": "0"}


@contextlib.contextmanager
def running(folder: Path, env: dict[str, str], index: Config | None = None, *, process: bool = False) -> Iterator[Service]:
    """A started service whose DATA_DIR is a copy of `index`'s (or empty), its log kept in `folder`; with
    `process`, in a process of its own."""
    data_dir = folder / "data"
    if index is not None:
        shutil.copytree(index.data_dir, data_dir)
    service = Service({"DATA_DIR": str(data_dir), **NO_LIMITS, **env}, log_path=folder / "service.log", process=process)
    with service:
        yield service


@pytest.fixture
def serve(tmp_path, sparse_index):
    """Start services for this test alone: serve(env, index=sparse_index, process=False) -> Service; all stopped
    afterwards."""
    with contextlib.ExitStack() as stack:
        started: list[Service] = []

        def start(env: dict[str, str] | None = None, index: Config | None = sparse_index, process: bool = False) -> Service:
            folder = tmp_path / f"service-{len(started)}"
            folder.mkdir()
            started.append(stack.enter_context(running(folder, env or {}, index, process=process)))
            return started[-1]

        yield start


@pytest.fixture(autouse=True)
def _model_left_as_found(request):
    """A fault injected into the loopback model ends with the test that injected it, even one that failed."""
    yield
    if {"openai_server", "fake_openai"} & set(request.fixturenames):
        request.getfixturevalue("openai_server").reset()
