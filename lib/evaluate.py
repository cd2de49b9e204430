"""python -m lib.evaluate CASES.jsonl: how well the service finds, refuses and cites, on labelled questions.

A cases file has one JSON object a line:

- `{"query": …, "expected_url": "/docs/page#anchor"}`: the section that answers it;
- `{"query": …, "source": "api/index.md", "heading": "Routes"}`: the same, by file and heading;
- `{"query": …, "answerable": false}`: the book does not cover it;
- `{"query": …, "retrieved": [chunk ids], "reason": …}`, as `python -m lib.export_cases`
  writes it: a rated answer whose right section is not known yet.

Each question goes through the service's own code: `retrieval.search` for the
ranking figures, and the query handler's path (lib.compose.prepare) then its extractive answer
for refusals and citations (no language model is called, so a run costs at
most two embeddings a question).
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
from typing import Awaitable, Callable, Iterable, Sequence, TextIO

import attrs
from attrs import frozen

from lib.answer import compose, generation, retrieval
from lib.clients import Clients, open_clients
from lib.config import (
    DEFAULT_DENSE_THRESHOLD,
    DEFAULT_LEXICAL_THRESHOLD,
    Config,
    ConfigError,
)
from lib.errors import ApiError, Unavailable
from lib.index.indexer import chunks_of, fill_embeddings, index_chunks, load_pages

DEPTH = 10  # how far down the ranking the ranking figures look
RANKS = (1, 5, 10)
IN_FLIGHT = 8
CHUNK_SIZES = (250, 500)

LABELLED, UNANSWERABLE, FEEDBACK = "labelled", "unanswerable", "feedback"


class CaseError(Exception):
    """Raised when a line of a cases file is not a case; the message names the line."""


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
    )


def read_cases(lines: Iterable[str]) -> list[Case]:
    cases = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CaseError(f"line {number}: not JSON ({error.msg})") from None
        cases.append(parse_case(data, number))
    if not cases:
        raise CaseError("no cases")
    return cases


@frozen
class Answered:
    """What the service made of a question, as far as the evaluation needs it."""

    refusal_reason: str | None
    retrieved: tuple[retrieval.Passage, ...]  # what search found, before the threshold
    sources: tuple[retrieval.Passage, ...] = ()  # the answer's numbered sources
    text: str = ""
    cites: bool = True  # False when the answerer writes no answer, so citations can't be measured


Answerer = Callable[[Clients, str, int], Awaitable[Answered]]


def service_answerer() -> Answerer:
    """The query handler's own path, lib.answers: `prepare`, then the extractive answer it falls back on."""

    async def answer(clients: Clients, query: str, top_k: int) -> Answered:
        collection = await retrieval.describe_collection(clients)
        plan = await compose.prepare(clients, collection, query=query, top_k=top_k)
        done = plan.answer if plan.answer is not None else plan.fallback()
        return Answered(done.refusal_reason, tuple(plan.retrieved), tuple(done.passages), done.text)

    return answer


def threshold_answerer(mode: str, threshold: float, collection: retrieval.Collection) -> Answerer:
    """For modes the service is not configured for: search in `mode`, refuse as lib.compose.prepare does below `threshold`."""

    async def answer(clients: Clients, query: str, top_k: int) -> Answered:
        found = tuple(await retrieval.search(clients, query, top_k, collection, mode=mode))
        passing = tuple(passage for passage in found if passage.score >= threshold)
        reason = None if passing else "low_score" if found else "no_hits"
        return Answered(reason, found, passing, cites=False)

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
    """Precision and recall of the refusals the service made, over the cases whose answerability is known."""
    judged = _judged(outcomes)
    return {"cases": len(judged), **_refusal_counts((not o.case.answerable, o.refused) for o in judged)}


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
    threshold: float
    top_k: int
    collection: retrieval.Collection
    chunk_size: int | None
    outcomes: tuple[Outcome, ...]
    unknown_labels: tuple[Case, ...]  # labelled cases whose section the index does not have
    seconds: float

    def figures(self) -> dict:
        return {
            "ranking": ranking_figures(self.outcomes),
            "refusals": {"threshold": self.threshold, **refusal_figures(self.outcomes)},
            "best_threshold": best_threshold(self.outcomes),
            "citations": citation_figures(self.outcomes),
            "feedback": feedback_figures(self.outcomes),
        }


async def _sections(clients: Clients, collection: retrieval.Collection) -> tuple[set[str], dict[tuple[str, str], str]]:
    """Every section url of the collection, and each (source, heading)'s url."""
    urls, by_heading = set(), {}
    for payload in (await clients.vectors.payloads()).values():
        url = normalise_url(payload.get("url", ""))
        urls.add(url)
        by_heading.setdefault((payload.get("source", ""), payload.get("section", "")), url)
    return urls, by_heading


async def _gone(clients: Clients, collection: retrieval.Collection, cases: Sequence[Case]) -> set[str]:
    """The rated answers' chunk ids that the index no longer holds (a chunk that changed has a new id)."""
    ids = {chunk_id for case in cases for chunk_id in case.retrieved or ()}
    valid = set()
    for chunk_id in ids:
        with contextlib.suppress(ValueError):
            valid.add(str(uuid.UUID(chunk_id)))
    held = set(await clients.vectors.payloads()) if valid else set()
    return ids - held


async def evaluate(
    clients: Clients,
    cases: Sequence[Case],
    *,
    top_k: int | None = None,
    mode: str | None = None,
    answerer: Answerer | None = None,
) -> Run:
    """Run every case against the collection of `clients`; the service's own path unless told otherwise.

    With `mode` other than the configured one, refusals follow the default
    threshold of that mode's scale (`threshold_answerer`) and citations are
    not measured.
    """
    started = time.perf_counter()
    config = clients.config
    top_k = top_k or config.top_k
    collection = await retrieval.describe_collection(clients)
    if collection is None or collection.points == 0:
        raise Unavailable(
            f"collection {config.qdrant_collection_name} is empty; index the book with python -m lib.ingest, "
            "or evaluate a temporary index of it with --fresh-index"
        )
    mismatch = retrieval.dense_mismatch(collection, config)
    if mismatch:
        raise Unavailable(mismatch)
    configured = retrieval.configured_mode(config, collection)
    mode = mode or configured
    threshold = config.threshold if mode == configured else threshold_for(mode)
    if answerer is None:
        answerer = service_answerer() if mode == configured else threshold_answerer(mode, threshold, collection)
    urls, by_heading = await _sections(clients, collection)
    gone = await _gone(clients, collection, cases)
    gate = asyncio.Semaphore(IN_FLIGHT)

    def expected(case: Case) -> str | None:
        url = case.expected_url or by_heading.get((case.source, case.heading))
        return url if url in urls else None

    async def one(case: Case) -> Outcome:
        async with gate:
            found = await retrieval.search(clients, case.query, DEPTH, collection, mode=mode)
            answered = await answerer(clients, case.query, top_k)
        return Outcome(
            case=case,
            expected=expected(case),
            ranked=tuple(normalise_url(passage.url) for passage in found),
            answered=answered,
            gone=tuple(chunk_id for chunk_id in case.retrieved or () if chunk_id in gone),
        )

    outcomes = tuple(await asyncio.gather(*(one(case) for case in cases)))
    return Run(
        mode=mode,
        threshold=threshold,
        top_k=top_k,
        collection=collection,
        chunk_size=None,
        outcomes=outcomes,
        unknown_labels=tuple(o.case for o in outcomes if o.case.kind == LABELLED and o.expected is None),
        seconds=round(time.perf_counter() - started, 2),
    )


def threshold_for(mode: str) -> float:
    """The default refusal threshold on the scale of a mode's scores."""
    return DEFAULT_LEXICAL_THRESHOLD if mode == retrieval.SPARSE else DEFAULT_DENSE_THRESHOLD


@contextlib.asynccontextmanager
async def fresh_index(config: Config, sources: Sequence[str], *, chunk_size: int | None = None, say=lambda m: None):
    """A pool over a temporary local Qdrant folder holding `sources` indexed at `chunk_size`.

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
            pages, failed = await asyncio.to_thread(load_pages, sources, config, say)
            if failed:
                say(f"{len(failed)} pages failed to load and are left out")
            summary = await index_chunks(
                chunks_of(pages, config), vectors=clients.vectors, embedder=clients.embedder, config=config, sources=list(sources)
            )
            if clients.embedder is not None:
                summary.embedded = await fill_embeddings(clients.vectors, clients.embedder)
            say(f"indexed {summary.added} chunks of {len(pages)} pages at CHUNK_SIZE {chunk_size}")
            yield clients
        finally:
            await clients.aclose()


async def compare(
    config: Config, cases: Sequence[Case], sources: Sequence[str], *, top_k: int | None = None,
    chunk_sizes: Sequence[int] = CHUNK_SIZES, say=lambda m: None,
) -> list[Run]:
    """The cases under every search mode the configuration allows, for each chunk size."""
    runs = []
    for chunk_size in chunk_sizes:
        async with fresh_index(config, sources, chunk_size=chunk_size, say=say) as clients:
            collection = await retrieval.describe_collection(clients)
            configured = retrieval.configured_mode(config, collection)
            modes = retrieval.MODES if configured == retrieval.HYBRID else (retrieval.SPARSE,)
            for mode in modes:
                run = await evaluate(clients, cases, top_k=top_k, mode=mode)
                runs.append(attrs.evolve(run, chunk_size=chunk_size))
    return runs


# Reports


def _figure(value) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def _case_json(outcome: Outcome) -> dict:
    case = outcome.case
    data = {"line": case.line, "query": case.query, "kind": case.kind, "expected_url": outcome.expected}
    if case.kind == LABELLED:
        data.update(rank=outcome.rank, reciprocal_rank=round(reciprocal_rank(outcome.rank), 4), ndcg=round(ndcg(outcome.rank), 4))
    data.update(
        top_url=outcome.ranked[0] if outcome.ranked else None,
        top_score=outcome.top_score,
        refusal_reason=outcome.answered.refusal_reason,
        cited=outcome.cited if outcome.answered.cites else None,
    )
    if case.retrieved is not None:
        data.update(reason=case.reason, still_retrieved=outcome.still_retrieved, gone=list(outcome.gone))
    return data


def run_json(run: Run, *, cases: bool = True) -> dict:
    data = {
        "mode": run.mode,
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
        f"{kinds.count(FEEDBACK)} from feedback) on {collection.name} ({collection.points} chunks), "
        f"{run.mode} search, top_k {run.top_k}, in {run.seconds:.1f} s\n"
    )
    ranking = figures["ranking"]
    out.write(
        f"ranking:    recall@1 {_figure(ranking['recall@1'])}  recall@5 {_figure(ranking['recall@5'])}  "
        f"recall@10 {_figure(ranking['recall@10'])}  MRR {_figure(ranking['mrr'])}  nDCG@10 {_figure(ranking['ndcg@10'])}\n"
    )
    refusals = figures["refusals"]
    out.write(
        f"refusals at threshold {run.threshold:g}: precision {_figure(refusals['precision'])}  recall {_figure(refusals['recall'])}  "
        f"F1 {_figure(refusals['f1'])}  (answerable refused {refusals['answerable_refused']}, "
        f"unanswerable answered {refusals['unanswerable_answered']})\n"
    )
    best = figures["best_threshold"]
    if best:
        low, high = best["between"]
        out.write(
            f"best threshold for F1: {best['threshold']:g} (F1 {_figure(best['f1'])}, precision {_figure(best['precision'])}, "
            f"recall {_figure(best['recall'])}; any threshold above {low:g} and up to {high:g} does as well)\n"
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


def write_comparison(runs: Sequence[Run], out: TextIO) -> None:
    out.write(
        f"{'chunk':>5} {'mode':<7} {'r@1':>5} {'r@5':>5} {'r@10':>5} {'MRR':>5} {'nDCG':>5}  "
        f"{'thresh':>6} {'ref P':>5} {'ref R':>5} {'F1':>5}  {'best':>5} {'F1':>5}  {'cite':>5} {'secs':>5}\n"
    )
    for run in runs:
        figures = run.figures()
        ranking, refusals, best = figures["ranking"], figures["refusals"], figures["best_threshold"] or {}
        out.write(
            f"{run.chunk_size:>5} {run.mode:<7} {_figure(ranking['recall@1']):>5} {_figure(ranking['recall@5']):>5} "
            f"{_figure(ranking['recall@10']):>5} {_figure(ranking['mrr']):>5} {_figure(ranking['ndcg@10']):>5}  "
            f"{run.threshold:>6g} {_figure(refusals['precision']):>5} {_figure(refusals['recall']):>5} {_figure(refusals['f1']):>5}  "
            f"{_figure(best.get('threshold')):>5} {_figure(best.get('f1')):>5}  "
            f"{_figure(figures['citations']['cites_labelled']):>5} {run.seconds:>5.1f}\n"
        )
    out.write("thresh: the default threshold of the mode's scale; ref P/R: refusals' precision and recall there; "
              "best: the threshold that maximises their F1;\n"
              "cite: how often the extractive answer cites the labelled section (in the configured mode only)\n")


# The command line


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.evaluate",
        description="Measure retrieval, refusals and citations on labelled questions, through the service's own code.",
    )
    parser.add_argument("cases", type=Path, help="a JSON Lines file of cases (see tests/eval/cases.jsonl), or - for stdin")
    parser.add_argument("--top-k", type=int, default=None, help="passages per question for refusals and citations (default TOP_K)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--fresh-index", action="store_true",
                        help="index --book into a temporary folder at CHUNK_SIZE and evaluate that, not the service's collection")
    parser.add_argument("--compare", action="store_true",
                        help="every search mode the configuration allows, under each of --chunk-sizes, side by side")
    parser.add_argument("--chunk-sizes", default=",".join(map(str, CHUNK_SIZES)),
                        help="comma-separated CHUNK_SIZE values for --compare (default %(default)s)")
    parser.add_argument("--book", action="append", metavar="PATH_OR_URL",
                        help="what --fresh-index and --compare index (default BOOK_DIR); may be repeated")
    args = parser.parse_args(argv)
    if args.top_k is not None and not 1 <= args.top_k <= 20:
        parser.error("--top-k must be from 1 to 20")
    try:
        args.chunk_sizes = [int(size) for size in args.chunk_sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--chunk-sizes must be whole numbers separated by commas")
    if not args.chunk_sizes or not all(50 <= size <= 8000 for size in args.chunk_sizes):
        parser.error("--chunk-sizes must be from 50 to 8000")
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _main(args: argparse.Namespace, config: Config, cases: list[Case]) -> int:
    config = attrs.evolve(config, index_on_start=False)
    sources = args.book or [str(config.book_dir)]
    if args.compare:
        runs = await compare(config, cases, sources, top_k=args.top_k, chunk_sizes=args.chunk_sizes, say=_say)
        if args.json:
            print(json.dumps([run_json(run, cases=False) for run in runs], indent=2))
        else:
            write_comparison(runs, sys.stdout)
        return 0
    if args.fresh_index:
        async with fresh_index(config, sources, say=_say) as clients:
            run = attrs.evolve(await evaluate(clients, cases, top_k=args.top_k), chunk_size=config.chunk_size)
    else:
        clients = await open_clients(config)
        try:
            run = await evaluate(clients, cases, top_k=args.top_k)
        finally:
            await clients.aclose()
    if args.json:
        print(json.dumps(run_json(run), indent=2, ensure_ascii=False))
    else:
        write_text(run, sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
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
