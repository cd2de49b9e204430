"""POST /v1/query: answer a question about the book, with the sections it came from."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

from attrs import field, frozen

from lib import generation, retrieval
from lib.errors import InvalidRequest, Unavailable
from lib.http import Incoming, Reply
from lib.storage.records import AnswerRecord
from lib.validation import boolean, build, integer, one_of, strip, text

MAX_TURNS = 20
MAX_HISTORY_CHARACTERS = 16_000
SNIPPET_CHARACTERS = 240
REFUSALS = {
    "no_hits": "I could not find anything about this in the book.",
    "low_score": "The book does not seem to cover this; nothing in it matches the question closely enough.",
    "out_of_scope": "The book's passages closest to this question do not answer it.",
}


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

    FIELDS = ("query", "top_k", "selected_text", "history", "session_id", "stream")

    @classmethod
    def from_json(cls, data: dict, *, request_id: str = "") -> "QueryRequest":
        return build(cls, data, allowed=cls.FIELDS, required=("query",), request_id=request_id)


def parse(incoming: Incoming) -> QueryRequest:
    return QueryRequest.from_json(incoming.json(), request_id=incoming.request_id)


@frozen
class _Answer:
    text: str
    mode: str
    passages: tuple = ()
    refusal_reason: str | None = None
    generated: generation.Generated | None = None
    retrieved: tuple = ()


def _source(n: int, passage: retrieval.Passage) -> dict:
    snippet = " ".join(passage.text.split())
    if len(snippet) > SNIPPET_CHARACTERS:
        snippet = snippet[:SNIPPET_CHARACTERS].rsplit(" ", 1)[0] + "…"
    return {
        "n": n,
        "title": passage.title,
        "section": passage.section,
        "url": passage.url,
        "score": passage.score,
        "snippet": snippet,
        "chunk_id": passage.chunk_id,
    }


def _refusal(reason: str, retrieved=(), generated=None) -> _Answer:
    return _Answer(text=REFUSALS[reason], mode="rag", refusal_reason=reason, retrieved=retrieved, generated=generated)


def _extractive(question: str, passages: tuple) -> _Answer:
    quoted = generation.extract(question, [passage.text for passage in passages])
    if not quoted:
        quoted = f"{_source(1, passages[0])['snippet']} [1]"
    return _Answer(text=quoted, mode="extractive", passages=passages, retrieved=passages)


async def _from_selection(request: QueryRequest, clients) -> _Answer:
    if clients.config.generation_enabled:
        try:
            generated = await generation.complete(
                clients, generation.selection_messages(request.query, request.selected_text)
            )
        except generation.ModelUnavailable:
            pass
        else:
            if generated.not_in_book:
                return _Answer(
                    text=REFUSALS["out_of_scope"], mode="selected_text", refusal_reason="out_of_scope", generated=generated
                )
            answer, _ = generation.keep_valid_citations(generated.text, 0)
            return _Answer(text=answer, mode="selected_text", generated=generated)
    quoted = generation.extract(request.query, [request.selected_text], cite=False) or request.selected_text[:500]
    return _Answer(text=quoted, mode="extractive")


async def _from_book(request: QueryRequest, clients) -> tuple[_Answer, retrieval.Collection]:
    config = clients.config
    collection = await retrieval.describe_collection(clients)
    if collection is None or collection.points == 0:
        raise Unavailable(f"the book is not indexed yet (collection {config.qdrant_collection_name} is empty)", retry_after=30)
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch, retry_after=300)
    question = await generation.standalone_question(clients, request.query, request.history)
    found = tuple(await retrieval.search(clients, question, request.top_k or config.top_k, collection))
    if not found:
        return _refusal("no_hits"), collection
    passages = tuple(passage for passage in found if passage.score >= config.threshold)
    if not passages:
        return _refusal("low_score", retrieved=found), collection
    if not config.generation_enabled:
        return _extractive(question, passages), collection
    try:
        generated = await generation.complete(clients, generation.answer_messages(question, passages))
    except generation.ModelUnavailable:
        return _extractive(question, passages), collection
    if generated.not_in_book:
        return _refusal("out_of_scope", retrieved=found, generated=generated), collection
    answer, _ = generation.keep_valid_citations(generated.text, len(passages))
    return _Answer(text=answer, mode="rag", passages=passages, generated=generated, retrieved=found), collection


def _log(request: QueryRequest, clients, answer_id: str, answer: _Answer, collection, sources, latency_ms: float) -> None:
    generated = answer.generated
    clients.store.log_answer(
        AnswerRecord(
            id=answer_id,
            created_at=datetime.now(timezone.utc),
            query=request.query if clients.config.store_queries else None,
            mode=answer.mode,
            answerable=answer.refusal_reason is None,
            refusal_reason=answer.refusal_reason,
            retrieved=tuple((passage.chunk_id, passage.score) for passage in answer.retrieved),
            cited=tuple(source["chunk_id"] for source in sources if f"[{source['n']}]" in answer.text),
            model=generated.model if generated else None,
            prompt_tokens=generated.prompt_tokens if generated else 0,
            completion_tokens=generated.completion_tokens if generated else 0,
            latency_ms=latency_ms,
            collection=clients.config.qdrant_collection_name,
            index_version=collection.index_version if collection else None,
            session_id=request.session_id,
        )
    )


async def _events(body: dict):
    yield "sources", body["sources"]
    yield "delta", {"text": body["answer"]}
    yield "done", {key: value for key, value in body.items() if key not in ("answer", "sources")}


async def handle(request: QueryRequest, clients) -> Reply:
    started = time.perf_counter()
    collection = None
    if request.selected_text:
        answer = await _from_selection(request, clients)
    else:
        answer, collection = await _from_book(request, clients)
    sources = [_source(n, passage) for n, passage in enumerate(answer.passages, start=1)]
    generated = answer.generated
    body = {
        "id": f"ans_{uuid.uuid4().hex}",
        "answer": answer.text,
        "answerable": answer.refusal_reason is None,
        "refusal_reason": answer.refusal_reason,
        "mode": answer.mode,
        "sources": sources,
        "model": generated.model if generated else None,
        "usage": {
            "prompt_tokens": generated.prompt_tokens if generated else 0,
            "completion_tokens": generated.completion_tokens if generated else 0,
        },
        "cached": False,
        "request_id": request.request_id,
    }
    _log(request, clients, body["id"], answer, collection, sources, (time.perf_counter() - started) * 1000)
    if request.stream:
        return Reply(events=_events(body), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return Reply(body=body)
