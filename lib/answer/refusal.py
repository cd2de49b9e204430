"""Does the book answer this question? A decision from evidence that means the same on every book and model.

A threshold on a raw score does not transfer: a cosine of 0.3 is a good match
for one model and noise for another, and the share of a question's words that
a passage holds depends on how the book is written. The decision combines
signals that are measured against the book itself:

- `missing`: the IDF-weighted share of the question's terms that the book
  never uses at all. A question about Kubernetes asked of a book that never
  says "Kubernetes" puts its most specific term here (an unseen term has the
  highest IDF there is).
- `lexical`: the best passage's BM25 for the question as a share of the most
  any passage could score (lib.answer.retrieval.lexical).
- `semantic` (with dense vectors): the best passage's cosine above the book's
  floor, scaled to what is left above it: (cosine - floor) / (1 - floor).
  The floor is the median best cosine that sixteen questions about nothing in
  particular (`PROBES`) reach in this book, with this model: measured once per
  index version and kept on the pool. It puts MiniLM's and OpenAI's cosines on
  one scale.
- `lift` (with dense vectors): how far the best cosine stands above the mean
  of the next ten, on the same scale. A question the book answers has a
  passage that stands out; a question next to the book's subject finds many
  passages about as close as each other.

Each passage gets a relevance from 0 to 1, a logistic function of its own
`lexical` and `semantic` and of the question's `missing` and `lift`, with one
set of weights per mode (`SPARSE_MODEL`, `HYBRID_MODEL`). The weights were fitted on the bundled
book's labelled questions alone (tests/eval/cases.jsonl; refit with
`python -m lib.evaluate tests/eval/cases.jsonl --fresh-index --fit`) and
measured on two books no one tuned on (tests/books). A passage scoring
`ANSWER_CUT` (0.5) or more is used; a question with no such passage is refused
with `low_score`. With a language model configured the bar is lower
(`MODEL_CUT`): the passages in between go to the model, whose own judgement
("not in the book") is the last gate. SIMILARITY_THRESHOLD, when set, replaces
both bars on the same 0-1 scale.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
from typing import Sequence

import attrs
from attrs import frozen

from lib.answer import retrieval
from lib.errors import Unavailable, UpstreamTimeout
from lib.index import sparse

log = logging.getLogger("bookbot")

# Questions no book here is about, on many subjects: their best cosines are what "unrelated" looks like in a
# book, for a model. None of them is among the labelled questions of tests/eval.
PROBES = (
    "Who painted the ceiling of the Sistine Chapel?",
    "How many moons does Jupiter have?",
    "What is the boiling point of water at sea level?",
    "Who wrote the novel War and Peace?",
    "How do I knit a scarf for beginners?",
    "What year did the Berlin Wall fall?",
    "Which planet is closest to the sun?",
    "How do I train a parrot to talk?",
    "What is the tallest mountain in Africa?",
    "How do I fix a leaking tap?",
    "What are the rules of cricket?",
    "How does a bill become law in the United States?",
    "What is photosynthesis?",
    "How do I plant tulip bulbs?",
    "Who invented the telephone?",
    "What causes earthquakes?",
)
LIFT_DEPTH = 11  # the best cosine and the ten after it
ANSWER_CUT = 0.5  # a passage's relevance needed to answer from it
# With a language model: what scores between this and ANSWER_CUT goes to the model to judge. On the bundled book
# it refuses 1 answerable question in 108 and 89% of the off-topic ones before the model is asked (hybrid).
MODEL_CUT = 0.3


@frozen
class Model:
    """A logistic function of the evidence: relevance = 1 / (1 + exp(-(bias + Σ weight × signal)))."""

    bias: float
    missing: float = 0.0
    lexical: float = 0.0
    semantic: float = 0.0
    lift: float = 0.0

    def relevance(self, missing: float, lexical: float, semantic: float = 0.0, lift: float = 0.0) -> float:
        logit = self.bias + self.missing * missing + self.lexical * lexical + self.semantic * semantic + self.lift * lift
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


# Fitted on tests/eval/cases.jsonl over the bundled book (python -m lib.evaluate ... --fit), the bias then set so
# that at most 5% of its answerable questions score under ANSWER_CUT.
SPARSE_MODEL = Model(bias=0.76, missing=-2.5, lexical=3.71)
HYBRID_MODEL = Model(bias=-0.414, missing=-2.018, lexical=2.795, semantic=1.172, lift=4.894)


@frozen
class Evidence:
    """What the decision saw of a question, for the evaluation and the logs."""

    mode: str  # whose weights: sparse, or hybrid when the passages have cosines and the floor is known
    missing: float
    lexical: float  # the best passage's
    semantic: float | None = None  # the best passage's
    lift: float | None = None
    floor: float | None = None
    best: float = 0.0  # the best passage's relevance


@frozen
class Judged:
    passages: tuple[retrieval.Passage, ...]  # every passage found, scored by relevance, best first
    reason: str | None  # why the question is refused, or None
    evidence: Evidence | None
    cut: float

    @property
    def usable(self) -> tuple[retrieval.Passage, ...]:
        """The passages good enough to answer from."""
        return tuple(passage for passage in self.passages if passage.score >= self.cut)


def missing_share(idf: dict[str, float], points: int) -> float:
    """The IDF-weighted share of the question's terms that no passage of the book holds; 1 for no terms."""
    total = sum(idf.values())
    if not total:
        return 1.0
    unseen = sparse.bm25_idf(0, points)
    return sum(weight for weight in idf.values() if weight >= unseen - 1e-9) / total


def scaled(cosine: float, floor: float) -> float:
    """A cosine above the book's floor, as a share of what lies above the floor."""
    return (cosine - floor) / (1.0 - floor) if floor < 1.0 else 0.0


def cut_for(config) -> float:
    """The relevance a passage needs to be used: lower when a language model judges the passages."""
    if config.similarity_threshold is not None:
        return config.similarity_threshold
    return MODEL_CUT if config.generation_enabled else ANSWER_CUT


def quoting_cut(config) -> float:
    """The relevance the best passage needs for an answer quoted without the model (when the model fails)."""
    return config.similarity_threshold if config.similarity_threshold is not None else ANSWER_CUT


async def floor(clients, collection) -> float:
    """The median best cosine of the probe questions in this book, with this model: once per index version."""
    key = (collection.name, collection.index_version, collection.dense_points, clients.embedder.model)

    async def measure() -> float:
        vectors = await retrieval.embed_texts(clients, PROBES)
        best = await asyncio.gather(*(retrieval.nearest_cosines(clients, vector, 1) for vector in vectors))
        return statistics.median(cosines[0] if cosines else 0.0 for cosines in best)

    value, _ = await clients.caches.books.get_or_compute(key, measure)
    return value


async def _dense_evidence(clients, collection, question: str) -> tuple[float, float] | None:
    """(floor, lift) for a question, or None when the model can't tell now (the search goes on without)."""
    try:
        book_floor = await floor(clients, collection)
        vector = await retrieval.embed_question(clients, question)
        cosines = await retrieval.nearest_cosines(clients, vector, LIFT_DEPTH)
    except (Unavailable, UpstreamTimeout) as error:
        log.warning("refusal: judging on the sparse evidence alone (%s)", error)
        return None
    if not cosines:
        return None
    lift = cosines[0] - statistics.fmean(cosines[1:]) if len(cosines) > 1 else 0.0
    return book_floor, lift / (1.0 - book_floor) if book_floor < 1.0 else 0.0


async def judge(clients, collection, question: str, found: Sequence[retrieval.Passage]) -> Judged:
    """Score every passage found by its relevance and decide whether the book answers the question."""
    cut = cut_for(clients.config)
    if not found:
        return Judged((), "no_hits", None, cut)
    idf = await retrieval.question_idf(clients, collection, question)
    missing = missing_share(idf, collection.points)
    dense = None
    if all(passage.cosine is not None for passage in found):
        dense = await _dense_evidence(clients, collection, question)
    if dense is None:
        model, mode = SPARSE_MODEL, retrieval.SPARSE
        scored = [attrs.evolve(p, score=_round(model.relevance(missing, p.lexical))) for p in found]
        book_floor = lift = None
    else:
        model, mode = HYBRID_MODEL, retrieval.HYBRID
        book_floor, lift = dense
        scored = [
            attrs.evolve(p, score=_round(model.relevance(missing, p.lexical, scaled(p.cosine, book_floor), lift)))
            for p in found
        ]
    # Python's sort is stable: passages of equal relevance keep the search's order.
    scored.sort(key=lambda passage: -passage.score)
    evidence = Evidence(
        mode=mode,
        missing=round(missing, 4),
        lexical=max(p.lexical for p in found),
        semantic=None if book_floor is None else round(max(scaled(p.cosine, book_floor) for p in found), 4),
        lift=None if lift is None else round(lift, 4),
        floor=None if book_floor is None else round(book_floor, 4),
        best=scored[0].score,
    )
    reason = None if scored[0].score >= cut else "low_score"
    return Judged(tuple(scored), reason, evidence, cut)


def _round(value: float) -> float:
    return round(value, 4)
