"""An answer from the book, planned: what retrieval found, the messages for the model or a finished answer
(quoted passages, or a refusal), and how the model's text becomes the answer.

lib.answer.flow carries a plan out; the evaluation runs the same code.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Callable, Sequence

import attrs
from attrs import frozen

from lib.answer import extractive, generation, refusal, retrieval
from lib.errors import Unavailable

SNIPPET_CHARACTERS = 240
_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[*`]+()|^#+\s*()", re.M)  # links keep their text
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
            return Answer(REFUSALS["out_of_scope"], self.mode, refusal_reason="out_of_scope", generated=generated, retrieved=self.retrieved)
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
    # Only the passage's start can end up in the snippet: clean no more than that.
    head = passage.text[: SNIPPET_CHARACTERS * 2]
    snippet = " ".join(html.unescape(_MARKUP.sub(r"\1", head)).split())
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


def refused(reason: str, collection: retrieval.Collection, retrieved=()) -> Plan:
    answer = Answer(REFUSALS[reason], "rag", refusal_reason=reason, retrieved=retrieved)
    return Plan(answer=answer, retrieved=retrieved, collection=collection)


def quoted(question: str, passages: tuple) -> Answer:
    """The passages' best sentences, cited: the answer when no model is configured or it fails."""
    text = extractive.extract(question, [passage.text for passage in passages])
    if not text:
        text = f"{source(1, passages[0])['snippet']} [1]"
    return Answer(text=text, mode="extractive", passages=passages, retrieved=passages)


def quoted_selection(question: str, selection: str) -> Answer:
    return Answer(text=extractive.extract(question, [selection], cite=False) or selection[:500], mode="extractive")


async def prepare(
    clients,
    collection: retrieval.Collection | None,
    *,
    query: str,
    top_k: int | None = None,
    selected_text: str | None = None,
    history: Sequence = (),
) -> Plan:
    """Everything up to the model: retrieval, the refusal (lib.answer.refusal), and the messages or a finished answer."""
    config = clients.config
    if selected_text:
        fallback = lambda: quoted_selection(query, selected_text)  # noqa: E731
        if not config.generation_enabled:
            return Plan(answer=await asyncio.to_thread(fallback), mode="extractive")
        messages = generation.selection_messages(query, selected_text)
        return Plan(messages=messages, mode="selected_text", fallback=fallback)
    if collection is None or collection.points == 0:
        raise Unavailable(f"the book is not indexed yet (collection {config.qdrant_collection_name} is empty)", retry_after=30)
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch, retry_after=300)
    question = await generation.standalone_question(clients, query, history)
    async with clients.retrieval_gate.held():  # more misses than one process can retrieve wait, briefly
        found = tuple(await retrieval.search(clients, question, top_k or config.top_k, collection))
    judged = await refusal.judge(clients, collection, question, found)
    found = judged.passages  # scored by relevance, best first
    if judged.reason:
        return refused(judged.reason, collection, retrieved=found)
    passages = judged.usable
    if not config.generation_enabled:
        done = await asyncio.to_thread(quoted, question, passages)
        return Plan(answer=done, passages=passages, retrieved=found, collection=collection)
    return Plan(
        messages=generation.answer_messages(question, passages),
        passages=passages,
        retrieved=found,
        collection=collection,
        fallback=lambda: quoted_or_refused(question, passages, refusal.quoting_cut(config), collection, found),
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


