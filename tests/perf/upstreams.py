"""A fake upstream in a process of its own, told what to do over stdin.

    python -m tests.perf.upstreams openai --dimensions 1536
    python -m tests.perf.upstreams qdrant --dimensions 1536

It prints one JSON line, `{"url": ...}`, once it serves, then reads one JSON
command per line and answers each with a line of JSON:
`{"latency": 1.0}` or `{"latency": {"chat/completions": 1.0}, "token_delay": 0.01}`
set how slow it is, and every answer says how many requests it served since
the last command. It exits when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import threading

import uvicorn

from tests.fakes.openai_server import FakeOpenAI
from tests.perf.fake_qdrant import FakeQdrant

HOST = "127.0.0.1"
BACKLOG = 4096


def _serve_qdrant(dimensions: int) -> tuple[FakeQdrant, str]:
    app = FakeQdrant(dimensions=dimensions)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(BACKLOG)
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, backlog=BACKLOG, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[listener]),), daemon=True)
    thread.start()
    return app, f"http://{HOST}:{listener.getsockname()[1]}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.upstreams")
    parser.add_argument("kind", choices=("openai", "qdrant"))
    parser.add_argument("--dimensions", type=int, default=1536)
    args = parser.parse_args(argv)
    if args.kind == "openai":
        fake = FakeOpenAI(dimensions=args.dimensions).start()
        url = fake.base_url
    else:
        fake, url = _serve_qdrant(args.dimensions)
    print(json.dumps({"url": url}), flush=True)
    settings = {"latency": 0.0, "token_delay": 0.0}
    for line in sys.stdin:
        settings.update({key: value for key, value in json.loads(line).items() if key in settings})
        if args.kind == "openai":
            # The fake keeps every request it saw; forget them between rounds, or a long run fills the memory.
            served = len(fake.requests)
            fake.reset()
        else:
            served, fake.requests = fake.requests, 0
        for key, value in settings.items():
            setattr(fake, key, value)
        print(json.dumps({"ok": True, "requests": served}), flush=True)


class Upstream:
    """The parent's handle on one fake upstream process."""

    def __init__(self, kind: str, dimensions: int, log_path=None):
        self.kind = kind
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.perf.upstreams", kind, "--dimensions", str(dimensions)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The fake's base URL (the first use waits until it serves)."""
        self._wait_until_serving()
        return self._url

    def _wait_until_serving(self) -> None:
        if self._url is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the fake {self.kind} did not start (see its log)")
            self._url = json.loads(line)["url"]

    def tell(self, **command) -> dict:
        self._wait_until_serving()
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


if __name__ == "__main__":
    main()
