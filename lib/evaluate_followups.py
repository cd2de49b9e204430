"""python -m lib.evaluate_followups CASES.jsonl: how the service answers questions asked in a conversation.

It reads the cases of `"kind": "followup"` (each with its `history` and a
`followup` type) and sends each through the service's own path
(lib.answer.compose.prepare, with the history) over a fresh temporary index
of `--book` (default BOOK_DIR), the way the query handler does, with the
configured model if there is one:

- `needs_history` and `new_topic`: is the labelled section (`source` and
  `heading`) the answer's first source, or among its sources?
- `off_topic` (an off-topic question after on-topic turns): is it refused?
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

from lib.answer import compose, retrieval
from lib.config import Config, ConfigError
from lib.errors import ApiError
from lib.evaluate import CaseError, fresh_index, json_lines, normalise_url, section_urls

TYPES = ("needs_history", "new_topic", "off_topic")


@frozen
class Turn:
    role: str
    content: str


@frozen
class Case:
    query: str
    history: tuple[Turn, ...]
    type: str
    source: str | None = None
    heading: str | None = None


@frozen
class Outcome:
    case: Case
    expected: str | None  # the labelled section's url
    sources: tuple[str, ...]  # the answer's sources' urls, in order
    refused: bool

    @property
    def first(self) -> bool:
        return bool(self.sources) and self.sources[0] == self.expected

    @property
    def cited(self) -> bool:
        return self.expected in self.sources

    @property
    def right(self) -> bool:
        return self.refused if self.case.type == "off_topic" else self.first


def read_cases(lines: Sequence[str]) -> list[Case]:
    cases = []
    for number, data in json_lines(lines):
        if not isinstance(data, dict) or data.get("kind") != "followup":
            continue
        if data.get("followup") not in TYPES or not isinstance(data.get("history"), list):
            raise CaseError(f"line {number}: a follow-up needs history and a followup type of {', '.join(TYPES)}")
        history = tuple(Turn(turn["role"], turn["content"]) for turn in data["history"])
        cases.append(Case(data["query"], history, data["followup"], data.get("source"), data.get("heading")))
    return cases


async def answer_all(clients, cases: Sequence[Case]) -> list[Outcome]:
    collection = await retrieval.describe_collection(clients)
    _, sections = await section_urls(clients)
    outcomes = []
    for case in cases:
        plan = await compose.prepare(clients, collection, query=case.query, history=case.history)
        done = plan.answer if plan.answer is not None else plan.fallback()
        urls = tuple(normalise_url(passage.url) for passage in done.passages)
        expected = sections.get((case.source, case.heading)) if case.source else None
        outcomes.append(Outcome(case, expected, urls, done.refusal_reason is not None))
    return outcomes


def figures(outcomes: Sequence[Outcome]) -> dict:
    by_type = {}
    for kind in TYPES:
        chosen = [o for o in outcomes if o.case.type == kind]
        if not chosen:
            continue
        counts = {"cases": len(chosen), "refused": sum(o.refused for o in chosen)}
        if kind != "off_topic":
            counts.update(first=sum(o.first for o in chosen), cited=sum(o.cited for o in chosen))
        by_type[kind] = counts
    return by_type


def write_text(outcomes: Sequence[Outcome], out) -> None:
    for outcome in outcomes:
        mark = "ok " if outcome.right else "NO "
        got = "refused" if outcome.refused else (outcome.sources[0] if outcome.sources else "-")
        out.write(f"{mark} {outcome.case.type:<13} {outcome.case.query}\n      got {got}, want {outcome.expected or 'a refusal'}\n")
    out.write("\n")
    for kind, counts in figures(outcomes).items():
        if kind == "off_topic":
            out.write(f"{kind:<13} {counts['cases']:>2} cases: refused {counts['refused']}\n")
        else:
            out.write(
                f"{kind:<13} {counts['cases']:>2} cases: labelled section first {counts['first']}, among the sources "
                f"{counts['cited']}, refused {counts['refused']}\n"
            )


async def measure(config: Config, cases: Sequence[Case], book: str, say=lambda m: None) -> list[Outcome]:
    async with fresh_index(config, [book], say=say) as clients:
        return await answer_all(clients, cases)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.evaluate_followups", description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, help="a JSON Lines file with follow-up cases, such as tests/eval/cases.jsonl")
    parser.add_argument("--book", help="the book the cases ask about (default BOOK_DIR)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        cases = read_cases(args.cases.read_text(encoding="utf-8").splitlines())
        config = Config.from_environ()
        say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
        outcomes = asyncio.run(measure(config, cases, args.book or str(config.book_dir), say))
    except (OSError, ValueError, ConfigError, ApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(figures(outcomes), indent=2))
    else:
        write_text(outcomes, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
