"""python -m lib.export_cases: one evaluation case per line, from either database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.config import Config
from lib.storage import open_store
from tests.lib.storage.conftest import answer, feedback, until_logged

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def environ(request, tmp_path) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATA_DIR")}
    environ.update(PYTHONPATH=str(REPO), DATA_DIR=str(tmp_path))
    if request.param == "postgres":
        environ["DATABASE_URL"] = request.getfixturevalue("database_url")
    return environ


def export(environ: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.export_cases", *arguments],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=30,
    )


@pytest.mark.anyio
async def test_export_prints_one_json_case_per_line(environ):
    store = open_store(Config.from_environ(environ))
    store.log_answer(answer("a1", query="Wie sprechen Knoten? ü"))
    await until_logged(store, 1)
    down = await store.record_feedback(feedback("a1", rating=-1, reason="wrong"))
    await store.record_feedback(feedback("a1", rating=1))
    await store.close()

    done = export(environ, "--rating", "-1")

    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "query": "Wie sprechen Knoten? ü",
            "retrieved": ["ch-1", "ch-2"],
            "reason": "wrong",
            "comment": None,
            "answer_id": "a1",
            "feedback_id": down.id,
        }
    ]
    assert "exported 1 cases" in done.stderr


def test_a_bad_rating_is_refused_by_argparse(tmp_path):
    done = export({**os.environ, "PYTHONPATH": str(REPO), "DATA_DIR": str(tmp_path)}, "--rating", "0")

    assert done.returncode == 2
    assert "--rating" in done.stderr


def test_a_bad_environment_is_reported_by_name(tmp_path):
    environ = {**os.environ, "PYTHONPATH": str(REPO), "DATABASE_URL": "mysql://nope"}

    done = export(environ)

    assert done.returncode == 1
    assert "DATABASE_URL" in done.stderr
