"""lib/hosts/server.py: the connections the server may hold, and a calm log when descriptors run out anyway."""

from __future__ import annotations

import errno
import logging
import subprocess
import sys

import pytest

from lib.hosts.server import quiet_accept_failures
from tests.service import REPO

BOUND = "from lib.hosts.server import connection_bound; import resource; print(connection_bound(1024), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"


@pytest.mark.parametrize(
    "soft, hard, held, soft_after",
    [
        (256, 256, (256 - 64) // 2, 256),  # the hard limit is the limit: as many as it allows
        (256, 4096, 1024, 2 * 1024 + 64),  # raised to fit, within the hard limit
        (8192, 8192, 1024, 8192),  # already enough: left as it was
    ],
)
def test_the_server_holds_max_connections_when_the_descriptor_limit_allows_and_fewer_when_not(soft, hard, held, soft_after):
    command = ["prlimit", f"--nofile={soft}:{hard}", sys.executable, "-c", BOUND]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(held), str(soft_after)]


def test_running_out_of_descriptors_is_reported_once_a_minute_with_a_count(caplog):
    handle = quiet_accept_failures()
    failure = {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "Too many open files")}
    with caplog.at_level(logging.ERROR, logger="bookbot"):
        for _ in range(10_000):  # asyncio 3.11 reports each of up to `backlog` tries per wake-up
            handle(None, failure)
    [record] = caplog.records
    assert "Too many open files" in record.getMessage() and "out of descriptors" in record.getMessage()
