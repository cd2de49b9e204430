"""A Qdrant server on loopback that speaks the REST calls the service makes, with a latency to set.

It answers what qdrant-client sends for the service's requests: `GET /`
(version, read by the client's compatibility check), `GET /healthz`,
`/livez` and `/readyz`, `GET /collections/{name}/exists`,
`GET /collections/{name}` and `POST /collections/{name}/points/query`; its
JSON has the shapes of qdrant_client.models, checked at start-up.

Every query gets the same passages of a generated book, each carrying the
dense vector of `QUESTION` as the loopback OpenAI embeds it, so a question
that shares most of its words scores well above the refusal threshold and
the service goes on to call the model. The hits' scores are those Reciprocal
Rank Fusion gives each rank. Responses are built once: the fake's
own work per request is small, so that on a two-core machine it takes as
little as it can from the service it measures.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import uuid
from typing import Callable

import numpy
from qdrant_client import models

from tests.fakes.openai_server import embed
from tests.perf.book import QUESTION, passage_text

COLLECTION = "book_chunks_v1"
VERSION = "1.20.0"
INDEX_VERSION = "bench00000000001"
MAX_LIMIT = 100
_QUERY_PATH = re.compile(r"/collections/([^/]+)/points/query")
_INFO_PATH = re.compile(r"/collections/([^/]+)(/exists)?")
_COUNT_PATH = re.compile(r"/collections/([^/]+)/points/count")
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain")]


class FakeQdrant:
    """The ASGI app; `latency` (seconds before every answer) may change at any time."""

    def __init__(self, *, dimensions: int, points: int = 5000, embedding_model: str = "text-embedding-3-small"):
        self.latency = 0.0
        self.requests = 0
        self._points = points
        self._info = _envelope(_collection_info(dimensions, points, embedding_model))
        vector = _dense(embed(QUESTION, dimensions))
        # The fused hits' JSON, without and with their vectors, for every limit: built once.
        self._ranked = {}
        for with_vector in (False, True):
            points = [json.dumps(point, separators=(",", ":")) for point in _points_of(MAX_LIMIT, vector if with_vector else None)]
            self._ranked[with_vector] = [f'{{"points":[{",".join(points[:n])}]}}' for n in range(MAX_LIMIT + 1)]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read_body(receive)
        self.requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        method, path = scope["method"], scope["path"]
        status, headers, payload = self._answer(method, path, body)
        headers = headers + [(b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, list, bytes]:
        if method == "GET" and path == "/":
            return 200, _JSON, json.dumps({"title": "qdrant - vector search engine", "version": VERSION}).encode()
        if method == "GET" and path in ("/healthz", "/livez", "/readyz"):
            return 200, _TEXT, b"healthz check passed"
        query = _QUERY_PATH.fullmatch(path)
        if method == "POST" and query:
            if query.group(1) != COLLECTION:
                return _not_found(query.group(1))
            search = json.loads(body or b"{}")  # the query's own limit, not its prefetches'
            limit = min(MAX_LIMIT, int(search.get("limit") or 10))
            hits = self._ranked[bool(search.get("with_vector"))][limit]
            return 200, _JSON, f'{{"result":{hits},"status":"ok","time":0.0001}}'.encode()
        count = _COUNT_PATH.fullmatch(path)
        if method == "POST" and count:  # every point has its embedding
            return (200, _JSON, _envelope({"count": self._points})) if count.group(1) == COLLECTION else _not_found(count.group(1))
        info = _INFO_PATH.fullmatch(path)
        if method == "GET" and info:
            name, exists = info.groups()
            if exists:
                return 200, _JSON, _envelope({"exists": name == COLLECTION})
            return (200, _JSON, self._info) if name == COLLECTION else _not_found(name)
        return 404, _JSON, json.dumps({"status": {"error": f"Not found: {method} {path}"}, "time": 0.0}).encode()


def _envelope(result) -> bytes:
    return json.dumps({"result": result, "status": "ok", "time": 0.0001}, separators=(",", ":")).encode()


def _not_found(name: str) -> tuple[int, list, bytes]:
    error = {"status": {"error": f"Not found: Collection `{name}` doesn't exist!"}, "time": 0.0}
    return 404, _JSON, json.dumps(error).encode()


def _collection_info(dimensions: int, points: int, embedding_model: str) -> dict:
    info = {
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": points,
        "points_count": points,
        "segments_count": 2,
        "config": {
            "params": {
                "vectors": {"dense": {"size": dimensions, "distance": "Cosine"}},
                "sparse_vectors": {"sparse": {"modifier": "idf"}},
            },
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": 0,
                "flush_interval_sec": 5,
            },
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "metadata": {"index_version": INDEX_VERSION, "dense_model": embedding_model},
        },
        "payload_schema": {},
    }
    models.CollectionInfo.model_validate(info)  # the client must be able to read it
    return info


def _dense(vector: list[float]) -> list[float]:
    """The vector with a little noise in every dimension, as a real embedding has: its JSON is as long as theirs."""
    rng = random.Random(0)
    noisy = [value + rng.uniform(-0.01, 0.01) for value in vector]
    norm = math.sqrt(sum(value * value for value in noisy))
    return [float(numpy.float32(value / norm)) for value in noisy]


def _points_of(count: int, vector: list[float] | None) -> list[dict]:
    points = []
    for n in range(count):
        point = {
            "id": str(uuid.UUID(int=n + 1)),
            "version": 1,
            "score": round(1.0 / (n + 61), 6),  # what Reciprocal Rank Fusion gives rank n
            "payload": {
                "title": f"Chapter {n % 12 + 1}",
                "headings": [f"Chapter {n % 12 + 1}", f"Section {n + 1}"],
                "section": f"Section {n + 1}",
                "url": f"/docs/chapter-{n % 12 + 1}#section-{n + 1}",
                "source": f"docs/chapter-{n % 12 + 1}.md",
                "position": n,
                "content_hash": f"{n:016x}",
                "text": passage_text(n),
            },
        }
        if vector is not None:
            point["vector"] = {"dense": vector}
        models.ScoredPoint.model_validate(point)
        points.append(point)
    return points


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
