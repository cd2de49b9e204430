"""A Qdrant server on loopback for the calls the service makes, answered from Qdrant's own local mode.

No Qdrant binary runs here, so this speaks Qdrant's REST protocol in front of
an indexed DATA_DIR: GET / (the version check), GET
/collections/{name}/exists, GET /collections/{name}, POST
/collections/{name}/points/query and its /batch, each answered by AsyncQdrantClient(path=...)
and serialised by the same pydantic models the real server's client reads.
It can be started on a port chosen in advance, so a service configured with
that QDRANT_URL sees the vector store come up, and go down, under it.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from pathlib import Path

import uvicorn
from qdrant_client import AsyncQdrantClient, models

_ROUTES = [
    ("GET", re.compile(r"/"), "version"),
    ("GET", re.compile(r"/collections/(?P<name>[^/]+)/exists"), "exists"),
    ("GET", re.compile(r"/collections/(?P<name>[^/]+)"), "collection"),
    ("POST", re.compile(r"/collections/(?P<name>[^/]+)/points/query"), "query"),
    ("POST", re.compile(r"/collections/(?P<name>[^/]+)/points/query/batch"), "batch"),
]


class QdrantFront:
    def __init__(self, qdrant_path: Path, port: int):
        self._path = qdrant_path
        self.port = port
        self.requests = 0
        self._local: AsyncQdrantClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "QdrantFront":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        config = uvicorn.Config(self._asgi, interface="asgi3", lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(listener),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Qdrant front did not start")
            time.sleep(0.01)
        return self

    async def _serve(self, listener: socket.socket) -> None:
        self._local = AsyncQdrantClient(path=str(self._path))
        try:
            await self._server.serve(sockets=[listener])
        finally:
            await self._local.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = self._thread = None

    def __enter__(self) -> "QdrantFront":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _asgi(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        status, result = await self._answer(scope["method"], scope["path"], json.loads(body) if body else None)
        payload = json.dumps(result if scope["path"] == "/" else {"result": result, "status": "ok", "time": 0.0}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, method: str, path: str, body: dict | None) -> tuple[int, object]:
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                break
        else:
            return 404, {"error": f"no {method} {path} here"}
        if name == "version":
            return 200, {"title": "qdrant - vector search engine", "version": "1.15.0"}
        collection = match["name"]
        if name == "exists":
            return 200, {"exists": await self._local.collection_exists(collection)}
        if name == "collection":
            return 200, (await self._local.get_collection(collection)).model_dump(mode="json")
        if name == "batch":  # the sparse mode's IDF look-up
            requests = [models.QueryRequest(**search) for search in body["searches"]]
            found = await self._local.query_batch_points(collection, requests=requests)
            return 200, [{"points": [point.model_dump(mode="json") for point in each.points]} for each in found]
        request = models.QueryRequest(**body)
        found = await self._local.query_points(
            collection,
            query=request.query,
            using=request.using,
            prefetch=request.prefetch,
            limit=request.limit or 10,
            with_payload=request.with_payload,
            with_vectors=request.with_vector or False,
        )
        return 200, {"points": [point.model_dump(mode="json") for point in found.points]}
