"""POST /v1/query: answer a question about the book, with the sections it came from."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import attrs
from attrs import field, frozen

from lib import generation, retrieval
from lib.errors import ApiError, InvalidRequest, Unavailable
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


@frozen
class _Plan:
    """Everything decided before the language model: a finished answer, or the messages to send."""

    answer: _Answer | None = None
    messages: list | None = None
    mode: str = "rag"
    passages: tuple = ()
    retrieved: tuple = ()
    collection: retrieval.Collection | None = None
    fallback: object = None  # () -> _Answer, for when the model fails

    def finish(self, generated: generation.Generated) -> _Answer:
        """The model's answer, checked: a refusal when it says the book lacks it, dangling citations gone."""
        if generated.not_in_book:
            return _Answer(REFUSALS["out_of_scope"], self.mode, refusal_reason="out_of_scope", generated=generated, retrieved=self.retrieved)
        text, _ = generation.keep_valid_citations(generated.text, len(self.passages))
        return _Answer(text, self.mode, self.passages, generated=generated, retrieved=self.retrieved)


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


def _refusal(reason: str, retrieved=()) -> _Plan:
    return _Plan(answer=_Answer(REFUSALS[reason], "rag", refusal_reason=reason, retrieved=retrieved), retrieved=retrieved)


def _quoted(question: str, passages: tuple) -> _Answer:
    quoted = generation.extract(question, [passage.text for passage in passages])
    if not quoted:
        quoted = f"{_source(1, passages[0])['snippet']} [1]"
    return _Answer(text=quoted, mode="extractive", passages=passages, retrieved=passages)


def _quoted_selection(question: str, selection: str) -> _Answer:
    return _Answer(text=generation.extract(question, [selection], cite=False) or selection[:500], mode="extractive")


async def _prepare(request: QueryRequest, clients) -> _Plan:
    config = clients.config
    if request.selected_text:
        fallback = lambda: _quoted_selection(request.query, request.selected_text)  # noqa: E731
        if not config.generation_enabled:
            return _Plan(answer=fallback(), mode="extractive")
        messages = generation.selection_messages(request.query, request.selected_text)
        return _Plan(messages=messages, mode="selected_text", fallback=fallback)
    collection = await retrieval.describe_collection(clients)
    if collection is None or collection.points == 0:
        raise Unavailable(f"the book is not indexed yet (collection {config.qdrant_collection_name} is empty)", retry_after=30)
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch, retry_after=300)
    question = await generation.standalone_question(clients, request.query, request.history)
    found = tuple(await retrieval.search(clients, question, request.top_k or config.top_k, collection))
    if not found:
        return attrs.evolve(_refusal("no_hits"), collection=collection)
    passages = tuple(passage for passage in found if passage.score >= config.threshold)
    if not passages:
        return attrs.evolve(_refusal("low_score", retrieved=found), collection=collection)
    if not config.generation_enabled:
        return _Plan(answer=_quoted(question, passages), passages=passages, retrieved=found, collection=collection)
    return _Plan(
        messages=generation.answer_messages(question, passages),
        passages=passages,
        retrieved=found,
        collection=collection,
        fallback=lambda: _quoted(question, passages),
    )


def _body(request: QueryRequest, answer_id: str, answer: _Answer) -> dict:
    generated = answer.generated
    return {
        "id": answer_id,
        "answer": answer.text,
        "answerable": answer.refusal_reason is None,
        "refusal_reason": answer.refusal_reason,
        "mode": answer.mode,
        "sources": [_source(n, passage) for n, passage in enumerate(answer.passages, start=1)],
        "model": generated.model if generated else None,
        "usage": {
            "prompt_tokens": generated.prompt_tokens if generated else 0,
            "completion_tokens": generated.completion_tokens if generated else 0,
        },
        "cached": False,
        "request_id": request.request_id,
    }


def _log(request: QueryRequest, clients, body: dict, answer: _Answer, plan: _Plan, started: float) -> None:
    """Hand the answer to the answer log, which writes it off the request's path."""
    generated = answer.generated
    clients.store.log_answer(
        AnswerRecord(
            id=body["id"],
            created_at=datetime.now(timezone.utc),
            query=request.query if clients.config.store_queries else None,
            mode=answer.mode,
            answerable=answer.refusal_reason is None,
            refusal_reason=answer.refusal_reason,
            retrieved=tuple((passage.chunk_id, passage.score) for passage in answer.retrieved or plan.retrieved),
            cited=tuple(source["chunk_id"] for source in body["sources"] if f"[{source['n']}]" in answer.text),
            model=generated.model if generated else None,
            prompt_tokens=generated.prompt_tokens if generated else 0,
            completion_tokens=generated.completion_tokens if generated else 0,
            latency_ms=(time.perf_counter() - started) * 1000,
            collection=clients.config.qdrant_collection_name,
            index_version=plan.collection.index_version if plan.collection else None,
            session_id=request.session_id,
        )
    )


async def _answer(plan: _Plan, clients) -> _Answer:
    if plan.answer is not None:
        return plan.answer
    try:
        return plan.finish(await generation.complete(clients, plan.messages))
    except generation.ModelUnavailable:
        return plan.fallback()


async def _stream(request: QueryRequest, clients, started: float):
    """sources, then delta events as the model writes, then done; or an error event."""
    answer_id = f"ans_{uuid.uuid4().hex}"
    try:
        plan = await _prepare(request, clients)
    except ApiError as error:
        yield "error", error.body(request.request_id)
        return
    yield "sources", [_source(n, passage) for n, passage in enumerate(plan.passages, start=1)]
    answer = plan.answer
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
            answer = plan.fallback()
        else:
            # All held back means a refusal (or an answer of a word or two): it goes out whole below.
            answer = plan.finish(completion.generated(held if held is not None else "".join(sent)))
        if not sent:
            yield "delta", {"text": answer.text}
    else:
        yield "delta", {"text": answer.text}
    body = _body(request, answer_id, answer)
    _log(request, clients, body, answer, plan, started)
    yield "done", {key: value for key, value in body.items() if key not in ("answer", "sources")}


async def handle(request: QueryRequest, clients) -> Reply:
    started = time.perf_counter()
    if request.stream:
        return Reply(events=_stream(request, clients, started), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    plan = await _prepare(request, clients)
    answer = await _answer(plan, clients)
    body = _body(request, f"ans_{uuid.uuid4().hex}", answer)
    _log(request, clients, body, answer, plan, started)
    return Reply(body=body)
