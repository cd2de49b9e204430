"""POST /v1/query: answer a question about the book, with the sections it came from."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import datetime, timezone

from attrs import field, frozen

from lib.access import presented_key
from lib.answer import compose, generation, retrieval
from lib.caches import AnswerKey, digest, normalise
from lib.errors import ApiError, InvalidRequest, Unavailable
from lib.hosts.messages import Incoming, Reply
from lib.storage.records import AnswerRecord
from lib.validation import boolean, build, integer, one_of, strip, text

MAX_TURNS = 20
MAX_HISTORY_CHARACTERS = 16_000


@frozen
class Turn:
    role: str = field(validator=one_of(("user", "assistant")))
    content: str = field(converter=strip, validator=text(min_length=1, max_length=MAX_HISTORY_CHARACTERS))


def _history(value) -> tuple[Turn, ...]:
    if value == ():
        return ()
    if not isinstance(value, list):
        raise InvalidRequest("history must be a list of {role, content} turns", field="history")
    if len(value) > MAX_TURNS:
        raise InvalidRequest(f"history must have at most {MAX_TURNS} turns, got {len(value)}", field="history")
    turns = []
    for turn in value:
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise InvalidRequest("each turn of history must be an object with role and content", field="history")
        try:
            turns.append(Turn(**turn))
        except InvalidRequest as error:
            raise InvalidRequest(f"history: {error.message}", field="history") from None
    if sum(len(turn.content) for turn in turns) > MAX_HISTORY_CHARACTERS:
        raise InvalidRequest(f"history must have at most {MAX_HISTORY_CHARACTERS} characters in all", field="history")
    return tuple(turns)


@frozen
class QueryRequest:
    query: str = field(converter=strip, validator=text(min_length=1, max_length=2000))
    top_k: int | None = field(default=None, validator=integer(low=1, high=20, optional=True))
    selected_text: str | None = field(default=None, converter=strip, validator=text(max_length=8000, optional=True))
    history: tuple[Turn, ...] = field(default=(), converter=_history)
    session_id: str | None = field(
        default=None, validator=text(min_length=1, max_length=128, pattern=r"[A-Za-z0-9_.-]+", optional=True)
    )
    stream: bool = field(default=False, validator=boolean)
    request_id: str = ""
    key_id: str | None = None  # a fingerprint of the API key presented, never the key

    FIELDS = ("query", "top_k", "selected_text", "history", "session_id", "stream")

    @classmethod
    def from_json(cls, data: dict, *, request_id: str = "", key_id: str | None = None) -> "QueryRequest":
        return build(cls, data, allowed=cls.FIELDS, required=("query",), request_id=request_id, key_id=key_id)


def parse(incoming: Incoming) -> QueryRequest:
    key = presented_key(incoming.headers)
    key_id = hashlib.sha256(key.encode()).hexdigest()[:16] if key else None
    return QueryRequest.from_json(incoming.json(), request_id=incoming.request_id, key_id=key_id)


async def _describe(clients) -> retrieval.Collection | None:
    """The collection as the vector store described it at most a second ago (see lib.caches)."""
    name = clients.config.qdrant_collection_name
    collection, _ = await clients.caches.collection.get_or_compute(name, lambda: retrieval.describe_collection(clients))
    return collection


def _key(request: QueryRequest, clients, collection: retrieval.Collection | None) -> AnswerKey | None:
    """The answer cache's key, or None when the answer can't be shared: it depends on the conversation."""
    if request.history:
        return None
    config = clients.config
    if not request.selected_text and (collection is None or collection.points == 0):
        return None  # _prepare says why it can't answer
    return AnswerKey(
        scope=request.key_id if config.api_keys else None,
        question=normalise(request.query),
        top_k=request.top_k or config.top_k,
        selection=digest(request.selected_text),
        generation_model=config.openai_generation_model if config.generation_enabled else None,
        embedding_model=config.openai_embedding_model if config.dense_enabled else None,
        collection=None if request.selected_text else collection.name,
        index_version=None if request.selected_text else collection.index_version,
    )


def _prepare(request: QueryRequest, clients, collection):
    return compose.prepare(
        clients,
        collection,
        query=request.query,
        top_k=request.top_k,
        selected_text=request.selected_text,
        history=request.history,
    )


def _body(request: QueryRequest, answer_id: str, answer: compose.Answer, cached: bool = False) -> dict:
    """The reply; a cached answer cost no tokens this time, and says so."""
    generated = answer.generated
    spent = generated is not None and not cached
    return {
        "id": answer_id,
        "answer": answer.text,
        "answerable": answer.refusal_reason is None,
        "refusal_reason": answer.refusal_reason,
        "mode": answer.mode,
        "sources": list(answer.sources),
        "model": generated.model if generated else None,
        "usage": {
            "prompt_tokens": generated.prompt_tokens if spent else 0,
            "completion_tokens": generated.completion_tokens if spent else 0,
        },
        "cached": cached,
        "request_id": request.request_id,
    }


def _log(request: QueryRequest, clients, body: dict, answer: compose.Answer, started: float) -> None:
    """Hand the answer to the answer log, which writes it off the request's path, and count it in the metrics;
    a cache hit too, with its own id."""
    generated = answer.generated
    seconds = time.perf_counter() - started
    clients.metrics.query(answer.mode, body["cached"], seconds, answer.refusal_reason)
    clients.store.log_answer(
        AnswerRecord(
            id=body["id"],
            created_at=datetime.now(timezone.utc),
            query=request.query if clients.config.store_queries else None,
            mode=answer.mode,
            answerable=answer.refusal_reason is None,
            refusal_reason=answer.refusal_reason,
            retrieved=tuple((passage.chunk_id, passage.score) for passage in answer.retrieved),
            cited=tuple(source["chunk_id"] for source in body["sources"] if f"[{source['n']}]" in answer.text),
            model=generated.model if generated else None,
            prompt_tokens=body["usage"]["prompt_tokens"],
            completion_tokens=body["usage"]["completion_tokens"],
            latency_ms=seconds * 1000,
            collection=clients.config.qdrant_collection_name,
            index_version=answer.index_version,
            session_id=request.session_id,
        )
    )


def _worth_keeping(answer: compose.Answer) -> bool:
    return not answer.from_fallback


def _done(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("answer", "sources")}


async def _stream(request: QueryRequest, clients, started: float, fields: dict):
    """sources, then delta events as the model writes, then done; or an error event. A cached answer is replayed.

    Fills `fields` for the request's access log line.
    """
    answer_id = f"ans_{uuid.uuid4().hex}"
    try:
        collection = None if request.selected_text else await _describe(clients)
        key = _key(request, clients, collection)
        hit = clients.caches.answers.get(key) if key is not None else None
        if hit is not None:
            body = _body(request, answer_id, hit, cached=True)
            _log(request, clients, body, hit, started)
            fields.update(_log_fields(body))
            yield "sources", body["sources"]
            yield "delta", {"text": hit.text}
            yield "done", _done(body)
            return
        plan = await _prepare(request, clients, collection)
    except ApiError as error:
        yield "error", error.body(request.request_id)
        return
    yield "sources", compose.sources(plan)
    answer = plan.answer
    fallback = False
    if answer is None:
        completion = generation.Completion(clients, plan.messages)
        citations = generation.CitationFilter(len(plan.passages))
        held, sent = "", []
        try:
            async for piece in completion:
                if held is not None:
                    held += piece
                    # Hold the first words back while they may still spell the refusal marker.
                    if generation.NOT_IN_BOOK.startswith(held.strip()):
                        continue
                    piece, held = held, None
                text = citations.feed(piece)
                if text:
                    sent.append(text)
                    yield "delta", {"text": text}
            tail = citations.flush()
            if tail:
                sent.append(tail)
                yield "delta", {"text": tail}
        except generation.ModelUnavailable:
            if sent:
                error = Unavailable("the language model failed in the middle of the answer")
                yield "error", error.body(request.request_id)
                return
            answer, fallback = await asyncio.to_thread(plan.fallback), True
        else:
            # All held back means a refusal (or an answer of a word or two): it goes out whole below.
            answer = plan.finish(completion.generated(held if held is not None else "".join(sent)))
        if not sent:
            yield "delta", {"text": answer.text}
    else:
        yield "delta", {"text": answer.text}
    answer = plan.settle(answer, fallback=fallback)
    if key is not None and _worth_keeping(answer):
        clients.caches.answers.put(key, answer)
    body = _body(request, answer_id, answer)
    _log(request, clients, body, answer, started)
    fields.update(_log_fields(body))
    yield "done", _done(body)


def _log_fields(body: dict) -> dict:
    """What the access log line tells of an answer: how it was made and what it cost, never its text."""
    return {"mode": body["mode"], "cached": body["cached"], "answerable": body["answerable"], **body["usage"]}


async def _fresh(request: QueryRequest, clients, collection) -> compose.Answer:
    return await compose.answer(await _prepare(request, clients, collection), clients)


async def handle(request: QueryRequest, clients) -> Reply:
    """The answer; a history-free question asked before (or being answered right now) is served from the cache.

    Every reply gets an id of its own, a cache hit too: feedback rates one
    reply to one reader, and the answer log keeps a row for each.
    """
    started = time.perf_counter()
    if request.stream:
        fields: dict = {}
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return Reply(events=_stream(request, clients, started, fields), headers=headers, log=fields)
    collection = None if request.selected_text else await _describe(clients)
    key = _key(request, clients, collection)
    if key is None:
        answer, cached = await _fresh(request, clients, collection), False
    else:
        answer, cached = await clients.caches.answers.get_or_compute(
            key, lambda: _fresh(request, clients, collection), keep=_worth_keeping
        )
    body = _body(request, f"ans_{uuid.uuid4().hex}", answer, cached=cached)
    _log(request, clients, body, answer, started)
    return Reply(body=body, log=_log_fields(body))
