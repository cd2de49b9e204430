"""python -m lib.evaluate CASES.jsonl: how well the service finds, refuses and cites, on labelled questions.

A cases file has one JSON object a line:

- `{"query": …, "expected_url": "/docs/page#anchor"}`: the section that answers it;
- `{"query": …, "source": "api/index.md", "heading": "Routes"}`: the same, by file and heading;
- `{"query": …, "answerable": false}`: the book does not cover it; with `"kind": "near_miss"` (a topic
  next to the book's) or `"kind": "off_topic"`, the refusals are also counted for each kind;
- `{"query": …, "retrieved": [chunk ids], "reason": …}`, as `python -m lib.export_cases`
  writes it: a rated answer whose right section is not known yet.

A case with `"kind": "followup"` needs the conversation before it and is left
out (and counted as such); `intent`, `history` and other fields are ignored.

Each question goes through the service's own code: `retrieval.search` then
`refusal.judge` for the ranking figures (the order the sources are listed in),
and the query handler's path (lib.answer.compose.prepare) then its extractive
answer for refusals and citations. No language model is called, so a run costs
at most two embeddings a question. Ranks are counted for the labelled section
(`section`) and for its page (`page`: any section of the same route).

`--suite` runs the labelled books of this repository (`SUITE`), each on a fresh
temporary index, in each mode: the refusal's weights were fitted on the first
(the bundled book); the others are held out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Iterator, Sequence, TextIO

import attrs
from attrs import frozen

from lib.answer import compose, generation, refusal, retrieval
from lib.caches import normalise
from lib.clients import Clients, open_clients
from lib.config import REPO_ROOT, Config, ConfigError
from lib.errors import ApiError, Unavailable
from lib.index.indexer import fill_embeddings, index_sources
from lib.index.vectors import is_empty

DEPTH = 10  # how far down the ranking the ranking figures look
RANKS = (1, 5, 10)
IN_FLIGHT = 8

LABELLED, UNANSWERABLE, FEEDBACK = "labelled", "unanswerable", "feedback"
NEAR_MISS, OFF_TOPIC, FOLLOWUP = "near_miss", "off_topic", "followup"
# The labelled books of this repository: (name, book, cases). The refusal was tuned on the first alone.
SUITE = (
    ("docs", "docs", "tests/eval/cases.jsonl"),
    ("sourdough", "tests/books/sourdough", "tests/eval/sourdough.jsonl"),
    ("telescope", "tests/books/telescope", "tests/eval/telescope.jsonl"),
)
TUNED_ON = "docs"


class CaseError(ValueError):
    """Raised when a line of a cases file is not a case; the message names the line."""


def json_lines(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each line of a JSON Lines file that is not blank; CaseError for one that is not JSON."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as error:
            raise CaseError(f"line {number}: not JSON ({error.msg})") from None


def normalise_url(url: str) -> str:
    """A section's route#anchor as labels and the parser both write it: no trailing slash, no empty anchor.

    The parser gives a folder's index page a route with a trailing slash
    (`/docs/api/#routes`); a label may well leave it out.
    """
    route, _, anchor = url.strip().partition("#")
    if len(route) > 1:
        route = route.rstrip("/")
    return f"{route}#{anchor}" if anchor else route


@frozen
class Case:
    query: str
    answerable: bool = True
    expected_url: str | None = None
    source: str | None = None
    heading: str | None = None
    retrieved: tuple[str, ...] | None = None  # the chunk ids of a rated answer, from the feedback export
    reason: str | None = None
    note: str = ""
    line: int = 0
    label: str | None = None  # the file's own `kind`: answerable, near_miss, off_topic, followup

    @property
    def kind(self) -> str:
        if not self.answerable:
            return UNANSWERABLE
        if self.expected_url or self.source:
            return LABELLED
        return FEEDBACK


def parse_case(data: object, line: int = 0) -> Case:
    """One case from one decoded line; a feedback export's case is labelled once it has a label."""
    where = f"line {line}: " if line else ""
    if not isinstance(data, dict):
        raise CaseError(f"{where}a case must be a JSON object")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise CaseError(f"{where}query must be a non-empty string")
    retrieved = data.get("retrieved")
    if retrieved is not None and not (isinstance(retrieved, list) and all(isinstance(i, str) for i in retrieved)):
        raise CaseError(f"{where}retrieved must be a list of chunk ids")
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise CaseError(f"{where}answerable must be true or false")
    expected_url, source, heading = data.get("expected_url"), data.get("source"), data.get("heading")
    if expected_url is not None and (not isinstance(expected_url, str) or not expected_url.startswith("/")):
        raise CaseError(f"{where}expected_url must be a route such as /docs/page#anchor")
    if (source is None) != (heading is None) or any(v is not None and not isinstance(v, str) for v in (source, heading)):
        raise CaseError(f"{where}source and heading go together, both strings")
    if answerable and expected_url is None and source is None and retrieved is None:
        raise CaseError(f'{where}an answerable case needs expected_url, or source and heading (or "answerable": false)')
    note = data.get("note") or data.get("comment") or ""
    label = data.get("kind")
    if label is not None and not isinstance(label, str):
        raise CaseError(f"{where}kind must be a string")
    return Case(
        query=query.strip(),
        answerable=answerable,
        expected_url=normalise_url(expected_url) if expected_url else None,
        source=source,
        heading=heading,
        retrieved=tuple(retrieved) if retrieved is not None else None,
        reason=data.get("reason"),
        note=note if isinstance(note, str) else "",
        line=line,
        label=label,
    )


def read_cases(lines: Iterable[str]) -> list[Case]:
    """Every case of a file, follow-ups included (`evaluate` leaves them out)."""
    cases = [parse_case(data, number) for number, data in json_lines(lines)]
    if not cases:
        raise CaseError("no cases")
    return cases


@frozen
class Answered:
    """What the service made of a question, as far as the evaluation needs it."""

    refusal_reason: str | None
    retrieved: tuple[retrieval.Passage, ...]  # what search found, scored by relevance, best first
    sources: tuple[retrieval.Passage, ...] = ()  # the answer's numbered sources
    text: str = ""
    cites: bool = True  # False when the answerer writes no answer, so citations can't be measured
    evidence: refusal.Evidence | None = None


Answerer = Callable[[Clients, str, int], Awaitable[Answered]]


def service_answerer() -> Answerer:
    """The query handler's own path, lib.answer.compose: `prepare`, then the extractive answer. With a language
    model configured, the model is not called: what `prepare` hands it counts as answered (its own "not in the
    book" is the last gate, which the evaluation does not run), and the passages are quoted for the citations."""

    async def answer(clients: Clients, query: str, top_k: int) -> Answered:
        collection = await retrieval.describe_collection(clients)
        plan = await compose.prepare(clients, collection, query=query, top_k=top_k)
        if plan.answer is not None:
            done = plan.answer
        else:
            done = await asyncio.to_thread(compose.quoted, query, plan.passages)
        return Answered(done.refusal_reason, tuple(plan.retrieved), tuple(done.passages), done.text)

    return answer


def mode_answerer(mode: str, collection: retrieval.Collection) -> Answerer:
    """For a mode the service is not configured for: what lib.answer.compose.prepare does, searching in `mode`."""

    async def answer(clients: Clients, query: str, top_k: int) -> Answered:
        found = tuple(await retrieval.search(clients, query, top_k, collection, mode=mode))
        judged = await refusal.judge(clients, collection, query, found)
        if judged.reason:
            return Answered(judged.reason, judged.passages, evidence=judged.evidence)
        done = await asyncio.to_thread(compose.quoted, query, judged.usable)
        return Answered(None, judged.passages, judged.usable, done.text, evidence=judged.evidence)

    return answer


@frozen
class Outcome:
    case: Case
    expected: str | None  # the labelled section's normalised url, when the index has it
    ranked: tuple[str, ...]  # normalised urls of the best DEPTH passages
    answered: Answered
    gone: tuple[str, ...] = ()  # a feedback case's chunk ids that are no longer in the index

    @property
    def rank(self) -> int | None:
        """Where the first passage of the labelled section comes, from 1; None when not in the top DEPTH."""
        if self.expected is None:
            return None
        return next((n for n, url in enumerate(self.ranked, start=1) if url == self.expected), None)

    @property
    def page_rank(self) -> int | None:
        """Where the first passage of the labelled section's page comes, from 1; None when not in the top DEPTH."""
        if self.expected is None:
            return None
        page = _page(self.expected)
        return next((n for n, url in enumerate(self.ranked, start=1) if _page(url) == page), None)

    @property
    def group(self) -> str:
        """answerable, near_miss, off_topic, or unanswerable (of no kind), as the refusals are counted."""
        if self.case.answerable:
            return "answerable"
        return self.case.label if self.case.label in (NEAR_MISS, OFF_TOPIC) else UNANSWERABLE

    @property
    def top_score(self) -> float:
        return max((passage.score for passage in self.answered.retrieved), default=0.0)

    @property
    def refused(self) -> bool:
        return self.answered.refusal_reason is not None

    @property
    def cited(self) -> list[str]:
        """The normalised urls of the sources the answer cites, in the order it cites them."""
        _, numbers = generation.keep_valid_citations(self.answered.text, len(self.answered.sources))
        return [normalise_url(self.answered.sources[n - 1].url) for n in numbers]

    @property
    def still_retrieved(self) -> list[str]:
        """Of a rated answer's chunks, those the question retrieves today."""
        now = {passage.chunk_id for passage in self.answered.retrieved}
        return [chunk_id for chunk_id in self.case.retrieved or () if chunk_id in now]


# The figures


def _page(url: str) -> str:
    return url.partition("#")[0]


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def ndcg(rank: int | None, depth: int = DEPTH) -> float:
    """nDCG with one relevant section: the ideal puts it first, so the ideal DCG is 1."""
    return 1.0 / math.log2(rank + 1) if rank and rank <= depth else 0.0


def ranking_figures(outcomes: Sequence[Outcome]) -> dict:
    """Recall@k, MRR and nDCG@10 over the labelled cases; a label the index lacks counts as a miss."""
    labelled = [o for o in outcomes if o.case.kind == LABELLED]
    n = len(labelled)
    figures: dict = {"cases": n}
    for k in RANKS:
        figures[f"recall@{k}"] = _share(sum(1 for o in labelled if o.rank and o.rank <= k), n)
    for k in RANKS[:2]:
        figures[f"page_recall@{k}"] = _share(sum(1 for o in labelled if o.page_rank and o.page_rank <= k), n)
    figures["mrr"] = round(sum(reciprocal_rank(o.rank) for o in labelled) / n, 4) if n else None
    figures["ndcg@10"] = round(sum(ndcg(o.rank) for o in labelled) / n, 4) if n else None
    return figures


def _refusal_counts(pairs: Iterable[tuple[bool, bool]]) -> dict:
    """Refusing is the positive class: pairs of (should refuse, did refuse)."""
    tp = fp = fn = 0
    for should, did in pairs:
        tp += should and did
        fp += did and not should
        fn += should and not did
    precision, recall = _share(tp, tp + fp), _share(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "answerable_refused": fp,
        "unanswerable_answered": fn,
    }


def _judged(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.case.kind != FEEDBACK]


def refusal_figures(outcomes: Sequence[Outcome]) -> dict:
    """Precision and recall of the refusals the service made, over the cases whose answerability is known; the
    share of answerable questions refused; and the share refused of each kind of unanswerable question."""
    judged = _judged(outcomes)
    answerable = [o for o in judged if o.case.answerable]
    figures = {
        "cases": len(judged),
        **_refusal_counts((not o.case.answerable, o.refused) for o in judged),
        "answerable_refused_share": _share(sum(1 for o in answerable if o.refused), len(answerable)),
    }
    for group in (NEAR_MISS, OFF_TOPIC):
        cases = [o for o in judged if o.group == group]
        figures[f"{group}_refused"] = _share(sum(1 for o in cases if o.refused), len(cases))
        figures[f"{group}_cases"] = len(cases)
    return figures


def best_threshold(outcomes: Sequence[Outcome]) -> dict | None:
    """The threshold that maximises the refusals' F1, were a question refused when its best score is below it.

    F1 is the same for every threshold between two neighbouring best scores;
    of the best such gaps the widest wins, and the threshold is its middle,
    rounded to two decimals when that stays inside it.
    """
    judged = _judged(outcomes)
    if not judged or all(o.case.answerable for o in judged) or not any(o.case.answerable for o in judged):
        return None
    scores = sorted({o.top_score for o in judged})
    best = None
    for below, cut in zip([None, *scores], [*scores, None]):
        # a threshold in (below, cut] refuses every case whose best score is below `cut`
        counts = _refusal_counts(
            (not o.case.answerable, cut is None or o.top_score < cut) for o in judged
        )
        low = below if below is not None else 0.0
        high = cut if cut is not None else 1.0
        key = (counts["f1"], high - low)
        if best is None or key > best[0]:
            best = (key, low, high, counts)
    (_, low, high, counts) = best
    middle = (low + high) / 2
    threshold = round(middle, 2) if low < round(middle, 2) <= high else round(middle, 4)
    return {"threshold": threshold, "between": [round(low, 4), round(high, 4)], **counts}


def citation_figures(outcomes: Sequence[Outcome]) -> dict:
    """Of the labelled questions answered, how often the answer cites the labelled section."""
    answered = [o for o in outcomes if o.case.kind == LABELLED and not o.refused and o.answered.cites]
    citing = [o for o in answered if o.cited]
    return {
        "answered": len(answered),
        "cites_labelled": _share(sum(1 for o in answered if o.expected in o.cited), len(answered)),
        "first_citation_labelled": _share(sum(1 for o in citing if o.cited[0] == o.expected), len(answered)),
    }


def feedback_figures(outcomes: Sequence[Outcome]) -> dict:
    """For rated answers: are their chunks still what the question retrieves, and is it refused now?"""
    rated = [o for o in outcomes if o.case.retrieved]
    return {
        "cases": len(rated),
        "all_still_retrieved": sum(1 for o in rated if len(o.still_retrieved) == len(o.case.retrieved)),
        "some_still_retrieved": sum(1 for o in rated if 0 < len(o.still_retrieved) < len(o.case.retrieved)),
        "none_retrieved": sum(1 for o in rated if not o.still_retrieved),
        "chunks_gone_from_index": sum(len(o.gone) for o in rated),
        "refused_now": sum(1 for o in rated if o.refused),
    }


# The run


@frozen
class Run:
    mode: str
    threshold: float  # the relevance a passage needs to be answered from (lib.answer.refusal.cut_for)
    top_k: int
    collection: retrieval.Collection
    chunk_size: int | None
    outcomes: tuple[Outcome, ...]  # follow-ups left out
    unknown_labels: tuple[Case, ...]  # labelled cases whose section the index does not have
    seconds: float
    book: str = ""
    embeddings: str = ""  # the model behind the dense vectors, if any
    followups: int = 0  # cases left out: they need their conversation
    gated: bool = False  # a language model is configured: the refusals counted are those made before it

    @property
    def label(self) -> str:
        """The mode as the tables name it: sparse, or hybrid with the model behind it; "+LM" when the refusals
        are those made before a language model would judge."""
        label = f"{self.mode} ({self.embeddings})" if self.mode != retrieval.SPARSE and self.embeddings else self.mode
        return f"{label} +LM" if self.gated else label

    def figures(self) -> dict:
        return {
            "ranking": ranking_figures(self.outcomes),
            "refusals": {"threshold": self.threshold, **refusal_figures(self.outcomes)},
            "best_threshold": best_threshold(self.outcomes),
            "citations": citation_figures(self.outcomes),
            "feedback": feedback_figures(self.outcomes),
        }


async def section_urls(clients: Clients) -> tuple[set[str], dict[tuple[str, str], str]]:
    """Every section url of the collection, and each (source, heading)'s url."""
    urls, by_heading = set(), {}
    for payload in (await clients.vectors.payloads()).values():
        url = normalise_url(payload.get("url", ""))
        urls.add(url)
        by_heading.setdefault((payload.get("source", ""), payload.get("section", "")), url)
    return urls, by_heading


async def _gone(clients: Clients, cases: Sequence[Case]) -> set[str]:
    """The rated answers' chunk ids that the index no longer holds (a chunk that changed has a new id)."""
    ids = {chunk_id for case in cases for chunk_id in case.retrieved or ()}
    valid = set()
    for chunk_id in ids:
        with contextlib.suppress(ValueError):
            valid.add(str(uuid.UUID(chunk_id)))
    held = set(await clients.vectors.payloads()) if valid else set()
    return ids - held


async def embed_ahead(clients: Clients, questions: Sequence[str], batch: int = 64) -> None:
    """Put the questions' embeddings in the pool's cache, a batch a call: the local model embeds a batch of
    questions several times faster than the same questions one by one."""
    embedder, cache = clients.embedder, clients.caches.embeddings
    wanted = list(dict.fromkeys(q for q in questions if cache.get((embedder.model, normalise(q))) is None))
    for start in range(0, len(wanted), batch):
        texts = wanted[start : start + batch]
        for text, vector in zip(texts, await retrieval.embed_texts(clients, texts)):
            cache.put((embedder.model, normalise(text)), vector)


async def ranking(clients: Clients, collection, query: str, top_k: int, mode: str) -> tuple[list, refusal.Judged]:
    """The passages in the order a reply lists them (the best `top_k`, by relevance), then the search's next
    ones down to DEPTH; and the refusal's judgement of the first `top_k`."""
    found = await retrieval.search(clients, query, DEPTH, collection, mode=mode)
    judged = await refusal.judge(clients, collection, query, found[:top_k])
    return [*judged.passages, *found[top_k:]], judged


async def evaluate(
    clients: Clients,
    cases: Sequence[Case],
    *,
    top_k: int | None = None,
    mode: str | None = None,
    answerer: Answerer | None = None,
) -> Run:
    """Run every case but follow-ups against the collection of `clients`; the service's own path unless told
    otherwise. With `mode` other than the configured one, the answer is made as the service would in that mode
    (`mode_answerer`)."""
    started = time.perf_counter()
    config = clients.config
    top_k = top_k or config.top_k
    collection = await retrieval.describe_collection(clients)
    if is_empty(collection):
        raise Unavailable(
            f"collection {config.qdrant_collection_name} is empty; index the book with python -m lib.ingest, "
            "or evaluate a temporary index of it with --fresh-index"
        )
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch)
    configured = retrieval.configured_mode(config, collection)
    mode = mode or configured
    if answerer is None:
        answerer = service_answerer() if mode == configured else mode_answerer(mode, collection)
    urls, by_heading = await section_urls(clients)
    gone = await _gone(clients, cases)
    gate = asyncio.Semaphore(IN_FLIGHT)

    def expected(case: Case) -> str | None:
        url = case.expected_url or by_heading.get((case.source, case.heading))
        return url if url in urls else None

    async def one(case: Case) -> Outcome:
        async with gate:
            ranked, judged = await ranking(clients, collection, case.query, top_k, mode)
            answered = attrs.evolve(await answerer(clients, case.query, top_k), evidence=judged.evidence)
        return Outcome(
            case=case,
            expected=expected(case),
            ranked=tuple(normalise_url(passage.url) for passage in ranked),
            answered=answered,
            gone=tuple(chunk_id for chunk_id in case.retrieved or () if chunk_id in gone),
        )

    asked = [case for case in cases if case.label != FOLLOWUP]
    if mode != retrieval.SPARSE:
        await embed_ahead(clients, [case.query for case in asked])
    outcomes = tuple(await asyncio.gather(*(one(case) for case in asked)))
    return Run(
        mode=mode,
        threshold=refusal.cut_for(config),
        top_k=top_k,
        collection=collection,
        chunk_size=None,
        outcomes=outcomes,
        unknown_labels=tuple(o.case for o in outcomes if o.case.kind == LABELLED and o.expected is None),
        seconds=round(time.perf_counter() - started, 2),
        embeddings=collection.dense_model or "" if mode != retrieval.SPARSE else "",
        followups=len(cases) - len(asked),
        gated=config.generation_enabled,
    )


@contextlib.asynccontextmanager
async def fresh_index(config: Config, sources: Sequence[str], *, chunk_size: int | None = None, say=lambda m: None):
    """A pool over a temporary embedded collection holding `sources` indexed at `chunk_size`, embeddings and all.

    Nothing of DATA_DIR, QDRANT_URL or DATABASE_URL is touched; embeddings
    are made with the configured model, if any, as the service would.
    """
    chunk_size = chunk_size or config.chunk_size
    with tempfile.TemporaryDirectory(prefix="bookbot-evaluate-") as folder:
        config = attrs.evolve(
            config,
            data_dir=Path(folder),
            qdrant_url=None,
            qdrant_api_key=None,
            database_url=None,
            index_on_start=False,
            chunk_size=chunk_size,
            chunk_overlap=config.chunk_overlap if config.chunk_overlap < chunk_size else chunk_size // 10,
        )
        clients = await open_clients(config, background=False)
        try:
            summary = await index_sources(sources, vectors=clients.vectors, embedder=clients.embedder, config=config, report=say)
            if summary.skipped:
                say(f"{len(summary.skipped)} pages failed to load and are left out")
            if clients.embedder is not None:
                summary.embedded = await fill_embeddings(clients.vectors, clients.embedder)
            say(f"indexed {summary.added} chunks of {summary.files - len(summary.skipped)} pages at CHUNK_SIZE {chunk_size}")
            yield clients
        finally:
            await clients.aclose()


async def modes_of(clients: Clients, cases: Sequence[Case], *, top_k: int | None = None, book: str = "") -> list[Run]:
    """The cases in the configured mode and, with dense vectors, in sparse search too."""
    collection = await retrieval.describe_collection(clients)
    configured = retrieval.configured_mode(clients.config, collection)
    modes = (configured,) if configured == retrieval.SPARSE else (configured, retrieval.SPARSE)
    runs = []
    for mode in modes:
        run = await evaluate(clients, cases, top_k=top_k, mode=mode)
        runs.append(attrs.evolve(run, chunk_size=clients.config.chunk_size, book=book))
    return runs


async def compare(
    config: Config, cases: Sequence[Case], sources: Sequence[str], *, top_k: int | None = None,
    chunk_sizes: Sequence[int] = (), book: str = "", say=lambda m: None,
) -> list[Run]:
    """The cases in every mode the configuration allows (its own, and sparse), on a fresh index of `sources`
    for each chunk size (default CHUNK_SIZE)."""
    runs = []
    for chunk_size in chunk_sizes or (config.chunk_size,):
        async with fresh_index(config, sources, chunk_size=chunk_size, say=say) as clients:
            runs += await modes_of(clients, cases, top_k=top_k, book=book)
    return runs


async def suite(config: Config, *, top_k: int | None = None, root: Path = REPO_ROOT, say=lambda m: None) -> list[Run]:
    """Every book of SUITE on a fresh index, in every mode the configuration allows."""
    runs = []
    for name, book, cases_file in SUITE:
        cases = read_cases((root / cases_file).read_text(encoding="utf-8").splitlines())
        say(f"{name}: {book} with {cases_file}")
        runs += await compare(config, cases, [str(root / book)], top_k=top_k, book=name, say=say)
    return runs


# Fitting the refusal


def fit_refusal(
    outcomes: Sequence[Outcome], *, refused_at_most: float = 0.05, steps: int = 4000, signals: Sequence[str] | None = None
) -> refusal.Model:
    """Weights for lib.answer.refusal from a run's evidence: a class-balanced logistic regression of "the book
    does not answer it" on the question's signals, then the bias set so that at most `refused_at_most` of the
    answerable questions score under ANSWER_CUT. Tune on one book; measure on others. `signals` names the
    evidence to use (default: every signal the run has), for ablations."""
    import numpy as np

    judged = [o for o in _judged(outcomes) if o.answered.evidence is not None]
    if not judged or all(o.case.answerable for o in judged) or not any(o.case.answerable for o in judged):
        raise ValueError("fitting needs answerable and unanswerable cases")
    dense = all(o.answered.evidence.semantic is not None for o in judged)
    names = tuple(signals or (("missing", "lexical", "semantic", "lift") if dense else ("missing", "lexical")))
    x = np.array([[getattr(o.answered.evidence, name) for name in names] for o in judged], dtype=float)
    y = np.array([0.0 if o.case.answerable else 1.0 for o in judged])
    mean, spread = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / spread
    balance = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    w, b = np.zeros(len(names)), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        gradient = (p - y) * balance
        w -= 0.1 * (z.T @ gradient / len(y) + 0.1 * w)
        b -= 0.1 * gradient.mean()
    weights = -w / spread  # weights of relevance: the opposite of "not answered"
    logits = x @ weights
    answerable = np.sort(logits[y == 0])
    bias = -answerable[int(math.floor(refused_at_most * len(answerable)))]
    return refusal.Model(bias=round(float(bias), 3), **{name: round(float(v), 3) for name, v in zip(names, weights)})


def _figure(value) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def _case_json(outcome: Outcome) -> dict:
    case = outcome.case
    data = {"line": case.line, "query": case.query, "kind": case.kind, "expected_url": outcome.expected}
    if case.label:
        data["label"] = case.label
    if case.kind == LABELLED:
        data.update(
            rank=outcome.rank, page_rank=outcome.page_rank,
            reciprocal_rank=round(reciprocal_rank(outcome.rank), 4), ndcg=round(ndcg(outcome.rank), 4),
        )
    evidence = outcome.answered.evidence
    data.update(
        top_url=outcome.ranked[0] if outcome.ranked else None,
        top_score=outcome.top_score,
        refusal_reason=outcome.answered.refusal_reason,
        cited=outcome.cited if outcome.answered.cites else None,
        evidence=attrs.asdict(evidence) if evidence else None,
    )
    if case.retrieved is not None:
        data.update(reason=case.reason, still_retrieved=outcome.still_retrieved, gone=list(outcome.gone))
    return data


def run_json(run: Run, *, cases: bool = True) -> dict:
    data = {
        "book": run.book or None,
        "mode": run.mode,
        "embeddings": run.embeddings or None,
        "followups_left_out": run.followups,
        "top_k": run.top_k,
        "chunk_size": run.chunk_size,
        "collection": {"name": run.collection.name, "points": run.collection.points, "index_version": run.collection.index_version},
        **run.figures(),
        "unknown_labels": [{"line": c.line, "expected_url": c.expected_url, "source": c.source, "heading": c.heading} for c in run.unknown_labels],
        "seconds": run.seconds,
    }
    if cases:
        data["cases"] = [_case_json(outcome) for outcome in run.outcomes]
    return data


def _case_line(outcome: Outcome) -> str:
    case, answered = outcome.case, outcome.answered
    refused = answered.refusal_reason or "-"
    cited = "-" if not answered.cites or outcome.refused or case.kind != LABELLED else "yes" if outcome.expected in outcome.cited else "no"
    if case.kind == LABELLED:
        rank = str(outcome.rank) if outcome.rank else "-"
        head = f"{rank:>4} {reciprocal_rank(outcome.rank):5.2f} {ndcg(outcome.rank):5.2f}"
    else:
        head = f"{'n/a':>4} {'':5} {'':5}"
    line = f"{head} {outcome.top_score:5.2f}  {refused:<10} {cited:<4} {case.query}"
    if case.kind == LABELLED and outcome.rank != 1:
        line += f"\n{'':36}expected {outcome.expected or case.expected_url or (case.source, case.heading)}, first {outcome.ranked[0] if outcome.ranked else 'nothing'}"
    if case.kind == UNANSWERABLE and not outcome.refused:
        line += f"\n{'':36}answered from {outcome.ranked[0] if outcome.ranked else 'nothing'}"
    if case.retrieved is not None:
        line += (
            f"\n{'':36}rated {case.reason or 'down'}: {len(outcome.still_retrieved)}/{len(case.retrieved)} of its chunks"
            f" still retrieved, {len(outcome.gone)} gone from the index"
        )
    return line


def write_text(run: Run, out: TextIO) -> None:
    figures = run.figures()
    out.write(f"{'rank':>4} {'RR':>5} {'nDCG':>5} {'top':>5}  {'refused':<10} {'cite':<4} query\n")
    for outcome in run.outcomes:
        out.write(_case_line(outcome) + "\n")
    kinds = [o.case.kind for o in run.outcomes]
    collection = run.collection
    out.write(
        f"\n{len(kinds)} cases ({kinds.count(LABELLED)} labelled, {kinds.count(UNANSWERABLE)} unanswerable, "
        f"{kinds.count(FEEDBACK)} from feedback{f', {run.followups} follow-ups left out' if run.followups else ''}) "
        f"on {collection.name} ({collection.points} chunks), {run.label} search, top_k {run.top_k}, in {run.seconds:.1f} s\n"
    )
    ranking = figures["ranking"]
    out.write(
        f"ranking:    recall@1 {_figure(ranking['recall@1'])}  recall@5 {_figure(ranking['recall@5'])}  "
        f"recall@10 {_figure(ranking['recall@10'])}  MRR {_figure(ranking['mrr'])}  nDCG@10 {_figure(ranking['ndcg@10'])}  "
        f"(page: recall@1 {_figure(ranking['page_recall@1'])}  recall@5 {_figure(ranking['page_recall@5'])})\n"
    )
    refusals = figures["refusals"]
    out.write(
        f"refusals at relevance {run.threshold:g}: precision {_figure(refusals['precision'])}  recall {_figure(refusals['recall'])}  "
        f"F1 {_figure(refusals['f1'])}  (answerable refused {refusals['answerable_refused']}, "
        f"{_figure(refusals['answerable_refused_share'])} of them; unanswerable answered {refusals['unanswerable_answered']}; "
        f"near misses refused {_figure(refusals['near_miss_refused'])}, off-topic {_figure(refusals['off_topic_refused'])})\n"
    )
    best = figures["best_threshold"]
    if best:
        low, high = best["between"]
        out.write(
            f"best relevance cut for F1: {best['threshold']:g} (F1 {_figure(best['f1'])}, precision {_figure(best['precision'])}, "
            f"recall {_figure(best['recall'])}; any cut above {low:g} and up to {high:g} does as well)\n"
        )
    citations = figures["citations"]
    if citations["answered"]:
        out.write(
            f"citations:  of {citations['answered']} labelled questions answered, the answer cites the labelled section in "
            f"{_figure(citations['cites_labelled'])}, first in {_figure(citations['first_citation_labelled'])}\n"
        )
    rated = figures["feedback"]
    if rated["cases"]:
        out.write(
            f"feedback:   {rated['cases']} rated answers: all their chunks still retrieved {rated['all_still_retrieved']}, "
            f"some {rated['some_still_retrieved']}, none {rated['none_retrieved']}; {rated['chunks_gone_from_index']} chunks gone "
            f"from the index; refused now {rated['refused_now']}\n"
        )
    if run.unknown_labels:
        out.write(f"warning: {len(run.unknown_labels)} labels name no section of the index (lines "
                  f"{', '.join(str(case.line) for case in run.unknown_labels)}); they count as misses\n")


COLUMNS = (
    ("p@1", "ranking", "page_recall@1"), ("p@5", "ranking", "page_recall@5"),
    ("s@1", "ranking", "recall@1"), ("s@5", "ranking", "recall@5"), ("MRR", "ranking", "mrr"),
    ("ref P", "refusals", "precision"), ("ref R", "refusals", "recall"), ("near", "refusals", "near_miss_refused"),
    ("off", "refusals", "off_topic_refused"), ("ans.ref", "refusals", "answerable_refused_share"),
    ("cite", "citations", "cites_labelled"),
)


def write_comparison(runs: Sequence[Run], out: TextIO) -> None:
    """One line a run: ranking, refusals and citations, as the README's quality table has them."""
    out.write(f"{'book':<10} {'mode':<36} {'chunk':>5} " + " ".join(f"{name:>7}" for name, _, _ in COLUMNS) + f" {'secs':>6}\n")
    for run in runs:
        figures = run.figures()
        book = f"{run.book}{'*' if run.book == TUNED_ON else ''}"
        out.write(
            f"{book:<10} {run.label:<36} {run.chunk_size or '':>5} "
            + " ".join(f"{_figure(figures[group][name]):>7}" for _, group, name in COLUMNS)
            + f" {run.seconds:>6.1f}\n"
        )
    out.write(
        "p@k / s@k: the labelled page / section among the first k sources (in the order a reply lists them); "
        "ref P / R: refusals' precision and recall;\n"
        "near / off: share of near-miss / off-topic questions refused; ans.ref: share of answerable questions refused; "
        "cite: the extractive answer cites the labelled section;\n"
        "*: the book the refusal was tuned on (the others are held out); follow-ups are left out;\n"
        "+LM: a language model is configured, which is not called: refusals are those made before it.\n"
    )


# The command line


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.evaluate",
        description="Measure retrieval, refusals and citations on labelled questions, through the service's own code.",
    )
    parser.add_argument("cases", type=Path, nargs="?",
                        help="a JSON Lines file of cases (see tests/eval/cases.jsonl), or - for stdin; not with --suite")
    parser.add_argument("--top-k", type=int, default=None, help="passages per question for refusals and citations (default TOP_K)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--fresh-index", action="store_true",
                        help="index --book into a temporary folder at CHUNK_SIZE and evaluate that, not the service's collection")
    parser.add_argument("--compare", action="store_true",
                        help="on a fresh index: the configured mode and sparse search (for each of --chunk-sizes), side by side")
    parser.add_argument("--suite", action="store_true",
                        help="the labelled books of this repository (docs, sourdough, telescope), each on a fresh index, "
                             "every mode the configuration allows, side by side")
    parser.add_argument("--fit", action="store_true",
                        help="also print the refusal's weights fitted on these cases (lib/answer/refusal.py SPARSE_MODEL and HYBRID_MODEL)")
    parser.add_argument("--chunk-sizes", default="",
                        help="comma-separated CHUNK_SIZE values for --compare (default CHUNK_SIZE)")
    parser.add_argument("--book", action="append", metavar="PATH_OR_URL",
                        help="what --fresh-index and --compare index (default BOOK_DIR); may be repeated")
    args = parser.parse_args(argv)
    if (args.cases is None) != args.suite:
        parser.error("give a cases file, or --suite (not both)")
    if args.top_k is not None and not 1 <= args.top_k <= 20:
        parser.error("--top-k must be from 1 to 20")
    try:
        args.chunk_sizes = [int(size) for size in args.chunk_sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--chunk-sizes must be whole numbers separated by commas")
    if not all(50 <= size <= 8000 for size in args.chunk_sizes):
        parser.error("--chunk-sizes must be from 50 to 8000")
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_fit(runs: Sequence[Run], out: TextIO) -> None:
    for run in runs:
        try:
            model = fit_refusal(run.outcomes)
        except ValueError as error:
            out.write(f"{run.book or 'cases'} {run.label}: no fit ({error})\n")
            continue
        out.write(f"fitted on {run.book or 'these cases'}, {run.label}: {model!r}\n")


async def _main(args: argparse.Namespace, config: Config, cases: list[Case] | None) -> int:
    config = attrs.evolve(config, index_on_start=False)
    sources = args.book or [str(config.book_dir)]
    if args.suite or args.compare:
        if args.suite:
            runs = await suite(config, top_k=args.top_k, say=_say)
        else:
            runs = await compare(config, cases, sources, top_k=args.top_k, chunk_sizes=args.chunk_sizes,
                                 book=Path(sources[0]).name, say=_say)
        if args.json:
            print(json.dumps([run_json(run, cases=False) for run in runs], indent=2))
        else:
            write_comparison(runs, sys.stdout)
        if args.fit:
            _write_fit(runs, sys.stdout)
        return 0
    if args.fresh_index:
        async with fresh_index(config, sources, say=_say) as clients:
            run = attrs.evolve(await evaluate(clients, cases, top_k=args.top_k), chunk_size=config.chunk_size)
    else:
        clients = await open_clients(config, background=False)  # the collection as it is, nothing changing it
        try:
            run = await evaluate(clients, cases, top_k=args.top_k)
        finally:
            await clients.aclose()
    if args.json:
        print(json.dumps(run_json(run), indent=2, ensure_ascii=False))
    else:
        write_text(run, sys.stdout)
    if args.fit:
        _write_fit([run], sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    cases = None
    if not args.suite:
        try:
            text = sys.stdin.read() if str(args.cases) == "-" else args.cases.read_text(encoding="utf-8")
            cases = read_cases(text.splitlines())
        except OSError as error:
            _say(f"error: can't read {args.cases}: {error.strerror or error}")
            return 2
        except CaseError as error:
            _say(f"error: {args.cases}: {error}")
            return 2
    try:
        return asyncio.run(_main(args, Config.from_environ(), cases))
    except (ConfigError, ApiError) as error:
        _say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
