"""The README's commands run as pasted: the API's examples against a running service, and no bare `python`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tests.service import REPO, Service

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)


def test_no_command_runs_a_python_other_than_the_virtualenvs():
    lines = [line for block in BLOCKS for line in block.splitlines() if line.strip() and not line.startswith("#")]
    bare = [line for line in lines if re.search(r"(^|[|&;(]\s*)python\s", line)]
    assert not bare, f"commands that run whatever python is on the PATH: {bare}"


def test_the_apis_examples_run_as_pasted(tmp_path, sparse_index):
    [block] = [block for block in BLOCKS if "localhost:8000/v1/feedback" in block and "/v1/query" in block]
    data = tmp_path / "data"
    shutil.copytree(sparse_index.data_dir, data)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    with Service({"DATA_DIR": str(data), "ADMIN_API_KEY": "admin-key-0123456789"}) as service:
        script = block.replace("localhost:8000", service.url.removeprefix("http://"))
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={"PATH": os.environ["PATH"], "ADMIN_API_KEY": "admin-key-0123456789"},
        )
    assert done.returncode == 0, done.stderr
    said = done.stdout  # curl adds no newline: the replies follow each other
    assert '"error": {' not in said, said
    for reply in ('"status": "degraded"', '"mode": "extractive"', '"url": "https://your.book/docs/ingestion#splitting-by-size"',
                  "event: done", '"status": "recorded"', '"items": [', '"most_down_voted": ['):
        assert reply in said, reply
