"""Where tests and benchmarks leave what a person may want to look at (screenshots, benchmark JSON): outside
the repository, in TEST_ARTIFACTS or else a folder of the system's temporary directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "bookbot-test-artifacts")
