"""A reader's question answered, plainly or as server-sent events, along one path: the cache, the plan, the
model's text checked as it comes, the reply, and the answer log.

`answer` and `stream` differ only in how the model is asked (one completion,
or a stream) and in what they hand back: a JSON body, or events (`sources`,
`delta`…, then `done` or `error`). Everything else, from the cache key to the
citation filter and the quoted fallback, is `_answering`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Sequence

from attrs import frozen

from lib.answer import compose, generation, retrieval
from lib.caches import AnswerKey, digest, normalise
from lib.errors import ApiError, Unavailable
from lib.ids import new_id
from lib.index.vectors import is_empty
from lib.storage.records import AnswerRecord


@frozen
class Page:
    """Where a reader's selection comes from, as the widget tells it: the answer's one source."""

    url: str
    title: str = ""
    section: str = ""


@frozen
class Question:
    """What a reader asked, and everything of the request an answer depends on."""

    text: str
    top_k: int | None = None
    selected_text: str | None = None
    page: Page | None = None  # with selected_text: the page it was selected on
    history: Sequence = ()  # earlier turns, each with a role and content
    session_id: str | None = None
    key_id: str | None = None  # the id of the API key presented: with API_KEYS, one key's answers serve no other
    request_id: str = ""
    book: str | None = None  # the book searched first (a docs instance's id)
    book_only: bool = False  # ... or alone


async def answer(clients, question: Question) -> dict:
    """The reply's body; a history-free question asked before (or being answered now) comes from the cache.

    Every reply gets an id of its own, a cache hit too: feedback rates one
    reply to one reader, and the answer log keeps a row for each.
    """
    started = time.perf_counter()
    collection = None if question.selected_text else await _describe(clients)
    key = _key(clients, question, collection)

    async def fresh() -> compose.Answer:
        return await _collected(_answering(clients, await _plan(clients, question, collection), stream=False))

    if key is None:
        found, cached = await fresh(), False
    else:
        found, cached = await clients.caches.answers.get_or_compute(key, fresh, keep=_worth_keeping)
    body = _body(question, found, cached=cached)
    _log(clients, question, body, found, started)
    return body


async def stream(clients, question: Question, fields: dict) -> AsyncIterator[tuple[str, Any]]:
    """The answer as events: `sources`, `delta` events as the model writes, then `done`, or an `error` when the
    model fails in the middle. A cached answer is replayed.

    Everything that can refuse the question (the vector store down, the book not indexed, a crowd past the
    wait bound) happens before this returns, so that the host answers with that status, not a stream that
    starts and fails. Fills `fields` for the request's access log line once the answer is known.
    """
    started = time.perf_counter()
    collection = None if question.selected_text else await _describe(clients)
    key = _key(clients, question, collection)
    found = clients.caches.answers.get(key) if key is not None else None
    plan = None if found is not None else await _plan(clients, question, collection)

    async def events() -> AsyncIterator[tuple[str, Any]]:
        nonlocal found
        try:
            if found is not None:
                body = _body(question, found, cached=True)
                yield "sources", body["sources"]
                yield "delta", {"text": found.text}
            else:
                async for event, data in _answering(clients, plan, stream=True):
                    if event != "answer":
                        yield event, data
                        continue
                    found = data
                    if key is not None and _worth_keeping(found):
                        clients.caches.answers.put(key, found)
                body = _body(question, found, cached=False)
        except ApiError as error:
            yield "error", error.body(question.request_id)
            return
        _log(clients, question, body, found, started)
        fields.update(log_fields(body))
        yield "done", {name: value for name, value in body.items() if name not in ("answer", "sources")}

    return events()


def log_fields(body: dict) -> dict:
    """What the access log line tells of an answer: how it was made and what it cost, never its text."""
    return {"mode": body["mode"], "cached": body["cached"], "answerable": body["answerable"], **body["usage"]}


async def _plan(clients, question: Question, collection: retrieval.Collection | None) -> compose.Plan:
    return await compose.prepare(
        clients,
        collection,
        query=question.text,
        top_k=question.top_k,
        selected_text=question.selected_text,
        page=question.page,
        history=question.history,
        book=question.book,
        book_only=question.book_only,
    )


async def _answering(clients, plan: compose.Plan, *, stream: bool) -> AsyncIterator[tuple[str, Any]]:
    """`sources`, `delta` events, then ("answer", the settled Answer): the one path of both replies.

    The model's text goes out as it comes, less every citation that points
    nowhere; its first words are held back while they may still spell the
    "not in the book" marker. A model that fails before its first word gives
    the quoted answer instead; one that fails later ends the reply with an error.
    """
    yield "sources", compose.sources(plan)
    if plan.answer is not None:
        yield "delta", {"text": plan.answer.text}
        yield "answer", plan.settle(plan.answer)
        return
    completion = generation.Completion(clients, plan.messages, stream=stream)
    citations = generation.CitationFilter(len(plan.passages))
    held, sent = "", []
    try:
        async for piece in completion:
            if held is not None:
                held += piece
                if generation.may_be_refusal(held):
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
            raise Unavailable("the language model failed in the middle of the answer") from None
        found, fallback = await asyncio.to_thread(plan.fallback), True
    else:
        # All held back means a refusal (or an answer of a word or two): it goes out whole below.
        found, fallback = plan.finish(completion.generated(held if held is not None else "".join(sent))), False
    if not sent:
        yield "delta", {"text": found.text}
    yield "answer", plan.settle(found, fallback=fallback)


async def _collected(answering: AsyncIterator[tuple[str, Any]]) -> compose.Answer:
    async for event, data in answering:
        if event == "answer":
            return data
    raise AssertionError("an answer always ends with its Answer")


async def _describe(clients) -> retrieval.Collection | None:
    """The collection as the vector store described it at most a second ago (see lib.caches)."""
    name = clients.config.qdrant_collection_name
    collection, _ = await clients.caches.collection.get_or_compute(name, lambda: retrieval.describe_collection(clients))
    return collection


def _key(clients, question: Question, collection: retrieval.Collection | None) -> AnswerKey | None:
    """The answer cache's key, or None when the answer can't be shared: it depends on the conversation."""
    if question.history:
        return None
    config = clients.config
    if not question.selected_text and is_empty(collection):
        return None  # compose.prepare says why it can't answer
    return AnswerKey(
        scope=question.key_id if config.api_keys else None,
        question=normalise(question.text),
        top_k=question.top_k or config.top_k,
        selection=digest(question.selected_text and f"{question.page}\n{question.selected_text}"),  # its source too
        generation_model=config.openai_generation_model if config.generation_enabled else None,
        embedding_model=config.embedding_model,
        collection=None if question.selected_text else collection.name,
        index_version=None if question.selected_text else collection.index_version,
        embedded=None if question.selected_text else collection.dense_points,
        book=None if question.selected_text else question.book,
        book_only=question.book_only and not question.selected_text,
    )


def _worth_keeping(found: compose.Answer) -> bool:
    return not found.from_fallback


def _body(question: Question, found: compose.Answer, *, cached: bool) -> dict:
    """The reply, with an id of its own; a cached answer cost no tokens this time, and says so."""
    generated = found.generated
    spent = generated is not None and not cached
    return {
        "id": f"ans_{new_id()}",
        "answer": found.text,
        "answerable": found.refusal_reason is None,
        "refusal_reason": found.refusal_reason,
        "mode": found.mode,
        "sources": list(found.sources),
        "model": generated.model if generated else None,
        "usage": {
            "prompt_tokens": generated.prompt_tokens if spent else 0,
            "completion_tokens": generated.completion_tokens if spent else 0,
        },
        "cached": cached,
        "request_id": question.request_id,
    }


def _log(clients, question: Question, body: dict, found: compose.Answer, started: float) -> None:
    """Hand the answer to the answer log, which writes it off the request's path, and count it in the metrics."""
    generated = found.generated
    seconds = time.perf_counter() - started
    clients.metrics.query(found.mode, body["cached"], seconds, found.refusal_reason)
    clients.store.log_answer(
        AnswerRecord(
            id=body["id"],
            created_at=datetime.now(timezone.utc),
            query=question.text if clients.config.store_queries else None,
            mode=found.mode,
            answerable=found.refusal_reason is None,
            refusal_reason=found.refusal_reason,
            retrieved=tuple((passage.chunk_id, passage.score) for passage in found.retrieved),
            cited=tuple(source["chunk_id"] for source in body["sources"] if f"[{source['n']}]" in found.text),
            model=generated.model if generated else None,
            prompt_tokens=body["usage"]["prompt_tokens"],
            completion_tokens=body["usage"]["completion_tokens"],
            latency_ms=seconds * 1000,
            collection=clients.config.qdrant_collection_name,
            index_version=found.index_version,
            session_id=question.session_id,
        )
    )
