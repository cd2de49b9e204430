"""The baseline: the same contract written the usual FastAPI way, with sync endpoints and sync clients.

    uvicorn tests.perf.fastapi_app:app   (the service's environment variables)

This is what the benchmark compares the service with, never code to ship. It
does the same work per request as the service (the same prompt, the same
hybrid query with the dense vectors back, the same cosine in Python, an
answer log row per answer, a health report cached for 5 s, a whole-answer
cache for history-free questions) in the way most FastAPI services are
written: `def` endpoints, which Starlette runs in its thread pool (40 threads),
blocking SDK clients made once at import, and a pg8000 connection per thread.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
import uuid
from datetime import datetime, timezone

import pg8000.native
from cachetools import TTLCache
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from openai import OpenAI
from pydantic import BaseModel, Field
from qdrant_client import QdrantClient, models

from lib.answer import generation
from lib.caches import normalise
from lib.index import sparse
from lib.storage import queries
from lib.storage.postgres import PostgresDatabase, parse_url

COLLECTION = os.environ.get("QDRANT_COLLECTION_NAME", "book_chunks_v1")
EMBEDDING_MODEL = os.environ.get("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
GENERATION_MODEL = os.environ.get("OPENAI_GENERATION_MODEL", "gpt-4o-mini")
THRESHOLD = float(os.environ.get("SIMILARITY_THRESHOLD") or 0.25)
DATABASE_URL = os.environ["DATABASE_URL"]

openai_client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ.get("OPENAI_API_KEY") or "unused")
qdrant = QdrantClient(url=os.environ["QDRANT_URL"], timeout=10)
PostgresDatabase(DATABASE_URL, timeout=5.0, pool_size=1).migrate()

answers_cache: TTLCache = TTLCache(maxsize=1024, ttl=900)
health_cache: TTLCache = TTLCache(maxsize=1, ttl=5)
cache_lock = threading.Lock()
local = threading.local()

app = FastAPI()


def db() -> pg8000.native.Connection:
    if getattr(local, "connection", None) is None:
        info = parse_url(DATABASE_URL)
        local.connection = pg8000.native.Connection(
            user=info.user, password=info.password, host=info.host, port=info.port, database=info.database, timeout=5
        )
    return local.connection


class Turn(BaseModel):
    role: str
    content: str


class QueryIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=20)
    selected_text: str | None = Field(default=None, max_length=8000)
    history: list[Turn] = Field(default_factory=list, max_length=20)
    session_id: str | None = Field(default=None, max_length=128)
    stream: bool = False


class FeedbackIn(BaseModel):
    answer_id: str = Field(min_length=1, max_length=128)
    rating: int
    feedback_id: uuid.UUID | None = None
    reason: str | None = None
    comment: str | None = Field(default=None, max_length=1000)


@app.exception_handler(RequestValidationError)
def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    body = {"error": {"code": "invalid_request", "message": first["msg"], "field": str(first["loc"][-1])}, "request_id": uuid.uuid4().hex}
    return JSONResponse(body, status_code=400)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def retrieve(question: str, top_k: int) -> list[dict]:
    vector = openai_client.embeddings.create(model=EMBEDDING_MODEL, input=[question]).data[0].embedding
    prefetch = [models.Prefetch(query=vector, using="dense", limit=top_k * 4)]
    terms = sparse.query_vector(question)
    if terms.indices:
        sparse_query = models.SparseVector(indices=list(terms.indices), values=list(terms.values))
        prefetch.append(models.Prefetch(query=sparse_query, using="sparse", limit=top_k * 4))
    result = qdrant.query_points(
        COLLECTION, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF),
        limit=top_k, with_payload=True, with_vectors=["dense"],
    )
    found = []
    for point in result.points:
        payload = point.payload or {}
        score = round(max(0.0, min(1.0, cosine(vector, point.vector["dense"]))), 4)
        found.append({"chunk_id": str(point.id), "title": payload.get("title", ""), "section": payload.get("section", ""),
                      "url": payload.get("url", ""), "text": payload.get("text", ""), "score": score})
    return [passage for passage in found if passage["score"] >= THRESHOLD]


def sources_of(passages: list[dict]) -> list[dict]:
    return [
        {"n": n, "title": p["title"], "section": p["section"], "url": p["url"], "score": p["score"],
         "snippet": " ".join(p["text"].split())[:240], "chunk_id": p["chunk_id"]}
        for n, p in enumerate(passages, start=1)
    ]


class _Passage:
    def __init__(self, passage: dict):
        self.title, self.section, self.text = passage["title"], passage["section"], passage["text"]


def log_answer(answer_id: str, body: QueryIn, result: dict, started: float) -> None:
    db().run(
        queries.INSERT_ANSWER, id=answer_id, created_at=datetime.now(timezone.utc), query=body.query,
        mode=result["mode"], answerable=result["answerable"], refusal_reason=result["refusal_reason"],
        retrieved="[]", cited="[]", model=result["model"], prompt_tokens=result["usage"]["prompt_tokens"],
        completion_tokens=result["usage"]["completion_tokens"], latency_ms=(time.perf_counter() - started) * 1000,
        collection=COLLECTION, index_version=None, session_id=body.session_id,
    )


def cache_key(body: QueryIn) -> tuple | None:
    if body.history:
        return None
    selection = hashlib.sha256(body.selected_text.encode()).hexdigest() if body.selected_text else None
    return (normalise(body.query), body.top_k, selection, GENERATION_MODEL, COLLECTION)


def answer(body: QueryIn) -> dict:
    passages = retrieve(body.query, body.top_k)
    if not passages:
        return {"answer": "The book does not seem to cover this.", "answerable": False, "refusal_reason": "low_score",
                "mode": "rag", "sources": [], "model": None, "usage": {"prompt_tokens": 0, "completion_tokens": 0}}
    messages = generation.answer_messages(body.query, [_Passage(p) for p in passages])
    completion = openai_client.chat.completions.create(model=GENERATION_MODEL, messages=messages, max_tokens=500, temperature=0.1)
    text, _ = generation.keep_valid_citations(completion.choices[0].message.content or "", len(passages))
    usage = completion.usage
    return {"answer": text, "answerable": True, "refusal_reason": None, "mode": "rag", "sources": sources_of(passages),
            "model": completion.model, "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}}


@app.post("/v1/query")
def query(body: QueryIn):
    started = time.perf_counter()
    if body.stream:
        return StreamingResponse(stream(body, started), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    key = cache_key(body)
    with cache_lock:
        cached = answers_cache.get(key) if key else None
    result = dict(cached) if cached else answer(body)
    if key and not cached:
        with cache_lock:
            answers_cache[key] = result
    answer_id = f"ans_{uuid.uuid4().hex}"
    log_answer(answer_id, body, result, started)
    return {"id": answer_id, **result, "cached": bool(cached), "request_id": uuid.uuid4().hex}


def event(name: str, data) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def stream(body: QueryIn, started: float):
    passages = retrieve(body.query, body.top_k)
    yield event("sources", sources_of(passages))
    messages = generation.answer_messages(body.query, [_Passage(p) for p in passages])
    pieces = []
    chunks = openai_client.chat.completions.create(
        model=GENERATION_MODEL, messages=messages, max_tokens=500, temperature=0.1, stream=True
    )
    for chunk in chunks:
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            pieces.append(piece)
            yield event("delta", {"text": piece})
    answer_id = f"ans_{uuid.uuid4().hex}"
    result = {"answerable": True, "refusal_reason": None, "mode": "rag", "model": GENERATION_MODEL,
              "usage": {"prompt_tokens": 0, "completion_tokens": 0}}
    log_answer(answer_id, body, result, started)
    yield event("done", {"id": answer_id, **result, "cached": False})


@app.api_route("/health", methods=["GET", "HEAD"])
def health():
    with cache_lock:
        cached = health_cache.get("report")
    if cached:
        return JSONResponse(cached[0], status_code=cached[1])
    services, errors, points, size = {}, {}, 0, None
    try:
        db().run("SELECT 1")
        services["database"] = "healthy"
    except Exception as error:
        services["database"], errors["database"] = "unhealthy", str(error)[:200]
    try:
        info = qdrant.get_collection(COLLECTION)
        points, size = info.points_count, info.config.params.vectors["dense"].size
        services["vector_db"] = "healthy"
    except Exception as error:
        services["vector_db"], errors["vector_db"] = "unhealthy", str(error)[:200]
    try:
        openai_client.models.list()
        services["openai_api"] = "healthy"
    except Exception as error:
        services["openai_api"], errors["openai_api"] = "unhealthy", str(error)[:200]
    status = "unhealthy" if services["vector_db"] != "healthy" else ("healthy" if not errors else "degraded")
    report = {"status": status, "services": services, "collection": {"name": COLLECTION, "points": points, "dense_size": size}, "version": "baseline"}
    if errors:
        report["errors"] = errors
    code = 503 if status == "unhealthy" else 200
    with cache_lock:
        health_cache["report"] = (report, code)
    return JSONResponse(report, status_code=code)


@app.post("/v1/feedback", status_code=201)
def feedback(body: FeedbackIn):
    feedback_id = str(body.feedback_id or uuid.uuid4())
    rows = db().run(
        queries.INSERT_FEEDBACK, feedback_id=feedback_id, answer_id=body.answer_id, rating=body.rating,
        reason=body.reason, comment=body.comment, query=None, answer=None, sources="[]", selected_text=None,
        session_id=None, created_at=datetime.now(timezone.utc),
    )
    if not rows:
        return JSONResponse({"id": feedback_id, "status": "recorded"}, status_code=200)
    return {"id": feedback_id, "status": "recorded"}
