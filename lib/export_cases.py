"""python -m lib.export_cases [--rating -1] > cases.jsonl: readers' rated answers as evaluation cases."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Sequence, TextIO

from lib.config import Config, ConfigError
from lib.errors import ApiError
from lib.storage import open_store


async def export(config: Config, rating: int, out: TextIO) -> int:
    """Write the rated answers as evaluation cases, one JSON object a line; return how many."""
    store = open_store(config)
    try:
        cases = await store.export_cases(rating=rating)
    finally:
        await store.close()
    for case in cases:
        out.write(json.dumps(case, ensure_ascii=False) + "\n")
    return len(cases)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lib.export_cases", description="Print rated answers as evaluation cases (JSON Lines)."
    )
    parser.add_argument("--rating", type=int, choices=(1, -1), default=-1, help="-1 (default) or 1")
    arguments = parser.parse_args(argv)
    try:
        count = asyncio.run(export(Config.from_environ(), arguments.rating, sys.stdout))
    except (ConfigError, ApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"exported {count} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
