"""uvicorn as the service runs it: its settings in one place, the connections it may hold, and a calm log when the
process runs out of descriptors anyway.

The HTTP/1.1 protocol it serves with is lib.hosts.http11's. asyncio (3.11)
reports "socket.accept() out of system resource" once for every try, up to
the listening socket's backlog each time it wakes up: thousands of lines a
second. Here it is logged once a minute, with a count.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn

from lib.config import Config
from lib.hosts.http11 import LOG_EVERY_SECONDS, Every, Limits, Protocol

log = logging.getLogger("bookbot")

# Longer than the idle timeout of the proxy in front (60 s is common), so that it never sends a request on a
# connection this side has just closed: uvicorn's 5 s default does exactly that.
KEEP_ALIVE_SECONDS = 75
# Descriptors kept for what is not a client's connection: the database pool, Qdrant's files, logs. Each client
# connection may hold one more of its own upstream (the model, a Qdrant server), so it counts twice.
RESERVED_DESCRIPTORS = 64
_ACCEPT_FAILED = "socket.accept() out of system resource"


def settings(config: Config) -> dict[str, Any]:
    """uvicorn.Config's arguments for `config`, but the app, the host and the port."""
    limits = Limits(
        header_timeout=config.header_timeout_seconds,
        body_timeout=config.body_timeout_seconds,
        max_connections=connection_bound(config.max_connections),
        max_body_bytes=config.max_body_bytes,
    )
    return {
        "http": type("BoundedH11Protocol", (Protocol,), {"limits": limits, "crowded": Every(LOG_EVERY_SECONDS)}),
        "proxy_headers": False,  # TRUSTED_PROXIES alone decides which X-Forwarded-For entry is the client
        "access_log": False,  # the serve step writes the access log
        "log_config": None,  # logs.configure made every logger write JSON lines
        "timeout_graceful_shutdown": config.shutdown_grace_seconds,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


def connection_bound(wanted: int) -> int:
    """How many connections the server may hold: `wanted`, when the descriptor limit allows it (raised up to its
    hard limit if need be), else as many as it allows, with a warning that says so."""
    needed = 2 * wanted + RESERVED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    allowed = max(1, (soft - RESERVED_DESCRIPTORS) // 2)
    log.warning("MAX_CONNECTIONS is %d, but the descriptor limit (%d) allows %d: the server holds %d", wanted, soft, allowed, allowed)
    return allowed


class Server(uvicorn.Server):
    """uvicorn's server, with the event loop's accept failures logged once a minute."""

    async def startup(self, sockets=None) -> None:
        asyncio.get_running_loop().set_exception_handler(quiet_accept_failures())
        await super().startup(sockets)


def quiet_accept_failures():
    """An event loop's exception handler that reports "out of descriptors" once a minute, and the rest as usual."""
    every = Every(LOG_EVERY_SECONDS)

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        # asyncio (3.11) retries accept() up to the backlog's length in one go, and reports each failure.
        if context.get("message") != _ACCEPT_FAILED:
            loop.default_exception_handler(context)
            return
        skipped = every.due()
        if skipped is not None:
            log.error(
                "can't accept connections: %s (the process is out of descriptors); %d more failures since the last report",
                context.get("exception"),
                skipped,
            )

    return handle


