"""A throwaway PostgreSQL cluster for tests: initdb into a temporary folder, serve on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import pg8000.native

from lib.storage.postgres import parse_url, ssl_context

# The packaged binaries are not on PATH on Debian and Ubuntu.
_SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")


class PostgresMissing(RuntimeError):
    """Raised when initdb and pg_ctl can't be found."""


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl: PG_BIN, else PATH, else the usual places (newest first)."""
    if os.environ.get("PG_BIN"):
        folder = Path(os.environ["PG_BIN"])
        if not (folder / "initdb").exists():
            raise PostgresMissing(f"PG_BIN={folder} holds no initdb")
        return folder
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    for pattern in _SEARCH:
        for folder in sorted(glob.glob(pattern), key=_version, reverse=True):
            if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
                return Path(folder)
    raise PostgresMissing(
        "PostgreSQL's initdb and pg_ctl were not found (looked at PG_BIN, PATH and "
        f"{', '.join(_SEARCH)}); install PostgreSQL or set TEST_DATABASE_URL"
    )


def _version(folder: str) -> tuple[int, ...]:
    digits = [part for part in Path(folder).parent.name.split(".") if part.isdigit()]
    return tuple(int(part) for part in digits)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A fresh cluster with trust authentication on 127.0.0.1; `url` reaches its `postgres` database."""

    def __init__(self, binaries: Path | None = None):
        self._binaries = binaries or find_binaries()
        self._root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self._data = self._root / "data"
        self._log = self._root / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # As root, the server must run as another user: postgres, when it exists.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self._root, "postgres")
        self._run(
            "initdb", "-D", str(self._data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )
        self.running = False
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._root} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self._log), "-o", options, "-w", "-t", "30", "start")
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: `immediate` is a crash; `fast` tells each session it is ending."""
        self._run("pg_ctl", "-D", str(self._data), "-m", mode, "-w", "stop")
        self.running = False

    def close(self) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as, str(self._binaries / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n{log}"
            )


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """CREATE DATABASE with a unique name on the server of `server_url`; DROP it afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    quoted = pg8000.native.identifier(name)
    with admin_connection(server_url) as admin:
        admin.run(f"CREATE DATABASE {quoted}")
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with admin_connection(server_url) as admin:
            admin.run(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


def admin_connection(url: str) -> pg8000.native.Connection:
    """A plain pg8000 connection to the database of `url`, for a test's own SQL."""
    info = parse_url(url)
    return pg8000.native.Connection(
        user=info.user,
        password=info.password,
        host=info.host,
        port=info.port,
        database=info.database,
        ssl_context=ssl_context(info),
        timeout=10,
    )
