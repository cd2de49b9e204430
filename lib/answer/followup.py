"""A question asked in a conversation, made to stand on its own: what retrieval is given, and what is answered.

A question that can be understood alone is answered alone, whatever came
before it: a change of topic, or an off-topic question after on-topic turns,
is searched and refused like any other question.

- With a language model, the model rewrites the question (generation.REWRITE_PROMPT),
  and leaves one that stands on its own unchanged.
- Without one (or when it fails), the words decide first: a question with no
  word that points back (it, that, the same, "and…", "what about…") or that
  says it changes the subject stands alone. One that points back is searched
  twice, alone and after the reader's previous question (what is kept is
  handed on, not searched a third time); the conversation is
  kept unless the combined search finds clearly less relevant passages than
  the question's own, or passages that hold none of the question's words (so
  "and its population?" after a question on the book is not answered from
  the book).
"""

from __future__ import annotations

import asyncio
import re
from typing import Sequence

from attrs import field, frozen

from lib.answer import generation, refusal, retrieval
from lib.index import sparse

# A reader who says the subject changes means it.
_NEW_TOPIC = re.compile(
    r"^(?:(?:and|ok|okay|so|thanks|thank you|nice|great|right|also)\W+)*"
    r"(?:separate|different|another|new|unrelated|something else|changing the subject|moving on|by the way|one more thing|"
    r"a different|on another note|other question)\b"
)
# Words that point back to the conversation, and openings that continue it.
_POINTS_BACK = re.compile(
    r"\b(?:it|its|it's|itself|they|them|their|theirs|this|that|these|those|that's|there|then|one|ones|the same|else|"
    r"instead|former|latter|he|she|him|her|his)\b"
)
_CONTINUES = re.compile(r"^(?:and|but|or|so|what about|how about|and if|what if|same for|why not)\b")
# A combined query has about twice the terms of the question alone, and its passages score a little lower
# (on either scale: the lexical share or the cosine) even when they are the right ones. Only a clear drop
# says the conversation leads elsewhere.
CLEARLY_WORSE = 0.35
# Share of a question's IDF weight in words the book never uses past which no earlier turn can make the book
# answer it: "the weather in London this weekend" after a question on the book.
MOSTLY_UNKNOWN = 0.4
MIN_OWN_TERMS = 2  # fewer of its own search terms than this, and a question is an ellipsis ("Why?", "How long?")


@frozen
class Asked:
    """A question ready to answer: `text` is what the answer answers, `search` what retrieval is given, and
    `found` what deciding it already found for `search` (TOP_K passages of every book), if anything."""

    text: str
    search: str
    found: tuple | None = field(default=None, eq=False)


def points_back(question: str) -> bool:
    """Whether a question needs the conversation to be understood: a word that refers back, an opening that
    continues ("and…", "what about…"), or too few words of its own; never when it says the subject changes."""
    words = " ".join(question.lower().replace("’", "'").split())
    words = re.sub(r"^\W+", "", words)
    if _NEW_TOPIC.match(words):
        return False
    if _CONTINUES.match(words) or _POINTS_BACK.search(words):
        return True
    return len(set(sparse.terms(words))) < MIN_OWN_TERMS


def without_new_topic_marker(question: str) -> str:
    """The question without its "Separate question:" or "By the way," opening: those words are about the
    conversation, and would only mislead the search."""
    marker = _NEW_TOPIC.match(question.lower().replace("’", "'"))  # the same length: offsets hold
    if marker is None:
        return question
    cut = re.search(r"[:,.!?]\s+", question[marker.end():][:40])
    return question[marker.end() + cut.end():].strip() if cut else question


async def standalone(clients, collection: retrieval.Collection, question: str, history: Sequence) -> Asked:
    """The question as retrieval and the answer should take it, given the conversation before it."""
    previous = next((turn.content for turn in reversed(history) if turn.role == "user"), None)
    if previous is None:
        return Asked(question, question)
    if clients.openai is not None and clients.config.generation_enabled:
        try:
            rewritten = await generation.rewrite_question(clients, question, history)
        except generation.ModelUnavailable:
            pass  # decided from retrieval instead, as without a model
        else:
            return Asked(rewritten, rewritten)
    if not points_back(question):
        own = without_new_topic_marker(question)
        return Asked(own, own)
    combined = f"{previous}\n{question}"
    if await _mostly_unknown(clients, collection, question):
        return Asked(question, question)  # no conversation makes the book speak of what it never mentions
    top_k = clients.config.top_k
    async with clients.retrieval_gate.held():
        alone, together = await asyncio.gather(
            retrieval.search(clients, question, top_k, collection),
            retrieval.search(clients, combined, top_k, collection),
        )
    if _context_helps(question, alone, together):
        return Asked(question, combined, tuple(together))
    return Asked(question, question, tuple(alone))


def _context_helps(question: str, alone: list, together: list) -> bool:
    """Whether searching with the previous question found passages not clearly less relevant than the
    question's own, and still about this question: one of them holds one of its words."""
    if not together:
        return False
    if alone and alone[0].score >= together[0].score + CLEARLY_WORSE:
        return False  # the previous question leads away from what this one asks
    own = set(sparse.terms(question))
    found = set().union(*(sparse.terms(f"{passage.title} {passage.section} {passage.text}") for passage in together))
    return not own or bool(own & found)


async def _mostly_unknown(clients, collection: retrieval.Collection, question: str) -> bool:
    """Whether much of the question's IDF weight (MOSTLY_UNKNOWN) is in terms no passage of the book holds."""
    idf = await retrieval.question_idf(clients, collection, question)
    return bool(idf) and refusal.missing_share(idf, collection.points) >= MOSTLY_UNKNOWN
