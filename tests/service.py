"""Run the service as a host does: uvicorn serving the app on a free loopback port, over real HTTP.

By default the server runs in a thread of the test process, configured from
the environment the test gives, exactly as `python router.py` configures it:
real sockets and uvicorn's HTTP parser, without a new interpreter's start-up.
A test about the process itself (signals, memory, the Dockerfile's command)
asks for `process=True`: then it is `python router.py` in a process of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

REPO = Path(__file__).resolve().parent.parent
_OWN_LOGGERS = ("bookbot", "lib", "uvicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """The service on loopback; `url` is its base; its JSON log lines are kept for assertions."""

    def __init__(
        self,
        env: dict[str, str],
        command: list[str] | None = None,
        log_path: Path | None = None,
        *,
        process: bool = False,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command or [sys.executable, "router.py"]
        self.in_process = not process and command is None
        base = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "QDRANT_", "DATABASE_"))}
        # Tests change the fake model's answer between questions: no answer cache unless a test asks for one.
        # No local embedding model unless a test asks for one: it would embed every book a test indexes.
        defaults = {"INDEX_ON_START": "false", "ANSWER_CACHE_SECONDS": "0", "EMBEDDINGS": "none" if "OPENAI_BASE_URL" not in env else "auto"}
        self.env = {**base, "PORT": str(self.port), **defaults, **env}
        self._scratch = None
        if "DATA_DIR" not in env:  # never the repository's ./data
            self._scratch = tempfile.TemporaryDirectory(prefix="bookbot-service-")
            self.env["DATA_DIR"] = self._scratch.name
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._handler: logging.Handler | None = None
        self._levels: dict[str, int] = {}

    def start(self, timeout: float = 30.0) -> "Service":
        if self.in_process:
            self._start_thread(timeout)
        else:
            self._start_process()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                httpx.get(self.url + "/health", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the service did not answer within {timeout} s: {self.log()}")

    def _start_process(self) -> None:
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

    def _start_thread(self, timeout: float) -> None:
        import router
        from lib import logs
        from lib.config import Config
        from lib.hosts import server

        config = Config.from_environ(self.env)
        if self.log_path:
            # What router.py's logs.configure would write: the service's own lines at LOG_LEVEL, as JSON.
            self._handler = logging.FileHandler(self.log_path, encoding="utf-8")
            self._handler.setFormatter(logs.JsonFormatter(logs.secrets_of(config)))
            logging.getLogger().addHandler(self._handler)
        for name in _OWN_LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(config.log_level)
        self._server = server.Server(
            uvicorn.Config(router.create_app(config), host="127.0.0.1", port=self.port, **server.settings(config))
        )
        self._thread = threading.Thread(target=self._server.run, name=f"service-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and time.monotonic() < deadline:
            self._check_alive()
            time.sleep(0.01)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the service exited with {self.process.returncode}: {self.log()}")
        if self._thread is not None and not self._thread.is_alive():
            raise RuntimeError(f"the service stopped during start-up: {self.log()}")

    def log(self) -> str:
        if self._handler is not None:
            self._handler.flush()
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
            self._server = self._thread = None
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels = {}
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.log_path:
            self._log.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
