"""A process with few descriptors, and more half-sent requests than it has: /health still answers, the log stays calm.

The service runs as `python router.py` under `prlimit --nofile=256:256`, with
headers given a minute to arrive, so that the timeout can't be what saves it:
the bound on connections is (MAX_CONNECTIONS, lowered to what 256 descriptors
allow), with the connections that wait longest on their client closed first.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time

import httpx

from tests.hardening.conftest import NO_LIMITS
from tests.service import Service

DESCRIPTORS = 256
HALF_SENT = 300
KEY = "descriptor-test-key-0123"


def test_half_sent_requests_past_the_descriptor_limit_neither_silence_health_nor_flood_the_log(tmp_path, sparse_index):
    data_dir = tmp_path / "data"
    shutil.copytree(sparse_index.data_dir, data_dir)
    env = {"DATA_DIR": str(data_dir), "HEADER_TIMEOUT_SECONDS": "60", "API_KEYS": KEY, **NO_LIMITS}
    command = ["prlimit", f"--nofile={DESCRIPTORS}:{DESCRIPTORS}", sys.executable, "router.py"]
    service = Service(env, command=command, log_path=tmp_path / "service.log")
    half_sent: list[socket.socket] = []
    with service:
        try:
            for n in range(HALF_SENT):
                sock = socket.create_connection(("127.0.0.1", service.port), timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Half-%d: " % n)
                half_sent.append(sock)
            started = time.monotonic()
            health = [httpx.get(service.url + "/health", timeout=10).status_code for _ in range(5)]
            waited = time.monotonic() - started
        finally:
            for sock in half_sent:
                sock.close()
        log = service.log()
    print(f"descriptors: /health answered {health} in {waited:.2f} s with {HALF_SENT} half-sent requests")
    assert health == [200] * 5
    assert f"the descriptor limit ({DESCRIPTORS}) allows 96" in log
    assert "socket.accept() out of system resource" not in log  # asyncio's own line, once per try
    assert log.count("can't accept connections") <= 1 and log.count("connections at MAX_CONNECTIONS") <= 1
    assert "API_KEYS in this process's access log: key 1 is " in log and KEY not in log
