"""The Qdrant the service talks to: a server at QDRANT_URL, or the local folder under DATA_DIR."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
from qdrant_client import AsyncQdrantClient, QdrantClient

from lib.config import Config


class VectorStoreLocked(Exception):
    """Raised when another process already holds the local Qdrant folder."""


class LocalQdrant:
    """Qdrant's local mode with AsyncQdrantClient's methods, run off the event loop.

    AsyncQdrantClient(path=...) searches, writes and commits to SQLite
    synchronously inside its async methods, so every other request waits
    while it works. This runs the synchronous client in one thread of its own:
    the local store is not thread-safe, and its SQLite connection belongs to
    the thread that opened it. Every call queues for that thread in turn.
    """

    def __init__(self, path: str):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-local")
        try:
            self._client = self._thread.submit(QdrantClient, path=path).result()
        except BaseException:
            self._thread.shutdown(wait=False)
            raise

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._client, name)
        if not callable(method):
            return method

        async def call(*args, **kwargs):
            return await asyncio.get_running_loop().run_in_executor(self._thread, partial(method, *args, **kwargs))

        return call

    async def close(self, **kwargs) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, partial(self._client.close, **kwargs))
        finally:
            self._thread.shutdown(wait=False)


def open_qdrant(config: Config) -> AsyncQdrantClient | LocalQdrant:
    """A client for QDRANT_URL, or for the local folder under DATA_DIR."""
    if config.qdrant_url:
        return AsyncQdrantClient(
            url=config.qdrant_url,
            api_key=config.qdrant_api_key,
            timeout=int(max(1, config.qdrant_timeout)),
            # The client turns keep-alive off for a server on localhost: a new connection per search.
            # Kept alive for 4 s, under the 5 s after which Qdrant closes an idle connection.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0),
        )
    config.qdrant_path.mkdir(parents=True, exist_ok=True)
    try:
        return LocalQdrant(str(config.qdrant_path))
    except RuntimeError as error:
        if "already accessed" not in str(error):
            raise
        raise VectorStoreLocked(
            f"the local Qdrant folder {config.qdrant_path} is in use by another process; "
            "stop it, point DATA_DIR elsewhere, or use a Qdrant server with QDRANT_URL"
        ) from None
