"""python -m lib.evaluate_extractive CASES.jsonl: how much of what a good answer says the quoted answer says.

A case names its book, a question, and phrases copied from the section that
answers it (`must_contain`). Each book is indexed into a temporary folder and
each question answered along the service's own path (lib.answer.compose, with
no language model: the extractive answer a reader gets when none is
configured). The figure is the share of phrases the answer contains, compared
without case, Markdown markup or runs of whitespace, per book.

Books: `docs` is BOOK_DIR (the bundled book by default); any other name is
tests/books/NAME, unless `--book NAME=PATH` says where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Sequence

from attrs import frozen

from lib.answer import compose, retrieval
from lib.config import REPO_ROOT, Config, ConfigError
from lib.errors import ApiError
from lib.evaluate import CaseError, fresh_index, json_lines

HELD_OUT = REPO_ROOT / "tests" / "books"
_MARKUP = re.compile(r"[`*_]+")


@frozen
class Case:
    book: str
    query: str
    must_contain: tuple[str, ...]


@frozen
class Outcome:
    case: Case
    answer: str
    refused: bool

    @property
    def found(self) -> tuple[str, ...]:
        text = comparable(self.answer)
        return tuple(phrase for phrase in self.case.must_contain if comparable(phrase) in text)

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(phrase for phrase in self.case.must_contain if phrase not in self.found)


def comparable(text: str) -> str:
    """Text as the comparison sees it: lower case, no Markdown emphasis or code marks, single spaces."""
    return " ".join(_MARKUP.sub("", text).lower().split())


def read_cases(lines: Sequence[str]) -> list[Case]:
    cases = []
    for number, data in json_lines(lines):
        named = isinstance(data, dict) and isinstance(data.get("book"), str) and isinstance(data.get("query"), str)
        if not named or not isinstance(data.get("must_contain"), list) or not data["must_contain"]:
            raise CaseError(f"line {number}: a case needs book, query and a list must_contain")
        cases.append(Case(data["book"], data["query"], tuple(data["must_contain"])))
    return cases


def book_path(name: str, config: Config, given: dict[str, str]) -> str:
    if name in given:
        return given[name]
    return str(config.book_dir) if name == "docs" else str(HELD_OUT / name)


async def answer_all(clients, cases: Sequence[Case]) -> list[Outcome]:
    """Each question through compose.prepare, then the quoted answer (the model's fallback when one is set)."""
    collection = await retrieval.describe_collection(clients)
    outcomes = []
    for case in cases:
        plan = await compose.prepare(clients, collection, query=case.query)
        done = plan.answer if plan.answer is not None else plan.fallback()
        outcomes.append(Outcome(case, done.text, done.refusal_reason is not None))
    return outcomes


async def measure(config: Config, cases: Sequence[Case], books: dict[str, str], say=lambda m: None) -> dict[str, list[Outcome]]:
    """The outcomes of every case, by book, each book in a fresh temporary index."""
    by_book: dict[str, list[Outcome]] = {}
    for name in dict.fromkeys(case.book for case in cases):
        async with fresh_index(config, [book_path(name, config, books)], say=say) as clients:
            by_book[name] = await answer_all(clients, [case for case in cases if case.book == name])
    return by_book


def figures(outcomes: Sequence[Outcome]) -> dict:
    phrases = sum(len(o.case.must_contain) for o in outcomes)
    found = sum(len(o.found) for o in outcomes)
    return {
        "questions": len(outcomes),
        "phrases": phrases,
        "found": found,
        "share": round(found / phrases, 4) if phrases else None,
        "complete": sum(1 for o in outcomes if not o.missed),
        "refused": sum(1 for o in outcomes if o.refused),
    }


def write_text(by_book: dict[str, list[Outcome]], out, *, verbose: bool = False) -> None:
    for name, outcomes in by_book.items():
        if verbose:
            for outcome in outcomes:
                out.write(f"\n[{name} {len(outcome.found)}/{len(outcome.case.must_contain)}] {outcome.case.query}\n")
                out.write(f"  {outcome.answer}\n")
                for phrase in outcome.missed:
                    out.write(f"  missing: {phrase}\n")
    out.write(f"\n{'book':<10} {'questions':>9} {'phrases':>8} {'found':>6} {'share':>6} {'complete':>8} {'refused':>7}\n")
    for name, outcomes in [*by_book.items(), ("all", [o for os in by_book.values() for o in os])]:
        f = figures(outcomes)
        out.write(
            f"{name:<10} {f['questions']:>9} {f['phrases']:>8} {f['found']:>6} {f['share'] or 0:>6.2f} {f['complete']:>8} {f['refused']:>7}\n"
        )


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.evaluate_extractive",
        description="The share of must_contain phrases the extractive answer contains, per book.",
    )
    parser.add_argument("cases", type=Path, help="a JSON Lines file such as tests/eval/extractive.jsonl")
    parser.add_argument("--book", action="append", default=[], metavar="NAME=PATH", help="where a book of the cases is")
    parser.add_argument("--verbose", action="store_true", help="print each answer and the phrases it misses")
    parser.add_argument("--json", action="store_true", help="print the figures per book as JSON")
    args = parser.parse_args(argv)
    try:
        args.books = dict(item.split("=", 1) for item in args.book)
    except ValueError:
        parser.error("--book takes NAME=PATH")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        cases = read_cases(args.cases.read_text(encoding="utf-8").splitlines())
        config = Config.from_environ()
        say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
        by_book = asyncio.run(measure(config, cases, args.books, say))
    except (OSError, ValueError, ConfigError, ApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({name: figures(outcomes) for name, outcomes in by_book.items()}, indent=2))
    else:
        write_text(by_book, sys.stdout, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
