"""An answer from the book, planned: what retrieval found, the messages for the model or a finished answer
(quoted passages, or a refusal), and how the model's text becomes the answer.

lib.answer.flow carries a plan out; the evaluation runs the same code.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence

import attrs
from attrs import frozen

from lib.answer import extractive, followup, generation, refusal, retrieval
from lib.errors import Unavailable
from lib.index.vectors import is_empty

SNIPPET_CHARACTERS = 240
REFUSAL = "refusal"  # the mode of every refusal: answerable is false exactly when the mode is this
REFUSALS = {
    "no_hits": "I could not find anything about this in the book.",
    "low_score": "The book does not seem to cover this; nothing in it matches the question closely enough.",
    "out_of_scope": "The book's passages closest to this question do not answer it.",
}


@frozen
class Answer:
    text: str
    mode: str
    passages: tuple = ()
    refusal_reason: str | None = None
    generated: generation.Generated | None = None
    retrieved: tuple = ()
    from_fallback: bool = False  # the model failed and the passages were quoted instead: never cached
    index_version: str | None = None
    sources: tuple = ()  # the passages as the reply lists them, made once for every reply of a cached answer


@frozen
class Plan:
    """Everything decided before the language model: a finished answer, or the messages to send."""

    answer: Answer | None = None
    messages: list | None = None
    mode: str = "rag"
    passages: tuple = ()
    retrieved: tuple = ()
    collection: retrieval.Collection | None = None
    fallback: Callable[[], "Answer"] | None = None  # for when the model fails

    def finish(self, generated: generation.Generated) -> Answer:
        """The model's answer, checked: a refusal when it says the book lacks it, dangling citations gone."""
        if generated.not_in_book:
            return Answer(REFUSALS["out_of_scope"], REFUSAL, refusal_reason="out_of_scope", generated=generated, retrieved=self.retrieved)
        text, _ = generation.keep_valid_citations(generated.text, len(self.passages))
        return Answer(text, self.mode, self.passages, generated=generated, retrieved=self.retrieved)

    def settle(self, answer: Answer, *, fallback: bool = False) -> Answer:
        """The answer as it is served, logged and cached: with what was retrieved and the index it came from."""
        return attrs.evolve(
            answer,
            retrieved=answer.retrieved or self.retrieved,
            from_fallback=fallback,
            index_version=self.collection.index_version if self.collection else None,
            sources=tuple(sources(answer)),
        )


def source(n: int, passage: retrieval.Passage) -> dict:
    """One entry of an answer's sources; the snippet is plain text, as a reader sees the passage."""
    snippet = extractive.snippet(passage.text, SNIPPET_CHARACTERS)
    return {
        "n": n,
        "title": passage.title,
        "section": passage.section,
        "url": passage.url,
        "book": passage.book,
        "score": passage.score,
        "snippet": snippet,
        "chunk_id": passage.chunk_id,
    }


def refused(reason: str, collection: retrieval.Collection, retrieved=()) -> Plan:
    answer = Answer(REFUSALS[reason], REFUSAL, refusal_reason=reason, retrieved=retrieved)
    return Plan(answer=answer, retrieved=retrieved, collection=collection)


def quoted(question: str, passages: tuple) -> Answer:
    """The passages' best sentences, cited: the answer when no model is configured or it fails."""
    texts = [passage.text for passage in passages]
    text = extractive.extract(question, texts, headings=[f"{passage.title} {passage.section}" for passage in passages])
    if not text:
        text = f"{source(1, passages[0])['snippet']} [1]"
    return Answer(text=text, mode="extractive", passages=passages, retrieved=passages)


def quoted_selection(question: str, selection: str, passages: tuple = ()) -> Answer:
    text = extractive.extract(question, [selection], cite=False) or selection[:500]
    return Answer(text=text, mode="extractive", passages=passages)


def selection_passage(selection: str, page) -> retrieval.Passage:
    """The page a selection was made on, as the answer's one source: the reader chose it, so it scores 1."""
    return retrieval.Passage(chunk_id="", title=page.title or page.url, section=page.section or page.title, url=page.url, text=selection, score=1.0)


async def prepare(
    clients,
    collection: retrieval.Collection | None,
    *,
    query: str,
    top_k: int | None = None,
    selected_text: str | None = None,
    page=None,
    history: Sequence = (),
    book: str | None = None,
    book_only: bool = False,
) -> Plan:
    """Everything up to the model: retrieval, the refusal (lib.answer.refusal), and the messages or a finished
    answer.

    A selection is answered from itself alone; `page` (a flow.Page), when the client says where it was
    selected, is the answer's source. With a `book`, its passages are searched first and every book's only
    when none of them will do (the reader's page is in that book, the answer may be in another); with
    `book_only`, its alone.
    """
    config = clients.config
    if selected_text:
        cited = (selection_passage(selected_text, page),) if page else ()
        fallback = lambda: quoted_selection(query, selected_text, cited)  # noqa: E731
        if not config.generation_enabled:
            return Plan(answer=await asyncio.to_thread(fallback), mode="extractive", passages=cited)
        messages = generation.selection_messages(query, selected_text)
        return Plan(messages=messages, mode="selected_text", passages=cited, fallback=fallback)
    if is_empty(collection):
        raise Unavailable(f"the book is not indexed yet (collection {config.qdrant_collection_name} is empty)", retry_after=30)
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch, retry_after=300)
    asked = await followup.standalone(clients, collection, query, history)
    async with clients.retrieval_gate.held():  # more misses than one process can retrieve wait, briefly
        if asked.found is not None and book is None and (top_k or config.top_k) == config.top_k:
            found = asked.found  # searched already, to decide what to search
        else:
            found = tuple(await retrieval.search(clients, asked.search, top_k or config.top_k, collection, book=book))
        judged = await refusal.judge(clients, collection, asked.search, found)
        if book is not None and not book_only and judged.reason:
            found = tuple(await retrieval.search(clients, asked.search, top_k or config.top_k, collection))
            judged = await refusal.judge(clients, collection, asked.search, found)
    found = judged.passages  # scored by relevance, best first
    if judged.reason:
        return refused(judged.reason, collection, retrieved=found)
    passages = judged.usable
    if not config.generation_enabled:
        done = await asyncio.to_thread(quoted, asked.text, passages)
        return Plan(answer=done, passages=passages, retrieved=found, collection=collection)
    return Plan(
        messages=generation.answer_messages(asked.text, passages),
        passages=passages,
        retrieved=found,
        collection=collection,
        fallback=lambda: quoted_or_refused(asked.text, passages, refusal.quoting_cut(config), collection, found),
    )


def quoted_or_refused(question: str, passages: tuple, cut: float, collection, found) -> Answer:
    """When the model fails: the quoted answer, or a refusal when the passages were only good enough for the
    model to judge (lib.answer.refusal.MODEL_CUT), not to be quoted."""
    if passages[0].score < cut:
        return refused("low_score", collection, retrieved=found).answer
    return quoted(question, passages)


def sources(answer_or_plan) -> list[dict]:
    """The numbered sources of an answer (or of a plan, before its answer is written)."""
    return [source(n, passage) for n, passage in enumerate(answer_or_plan.passages, start=1)]


