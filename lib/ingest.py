"""python -m lib.ingest PATH_OR_URL [...]: index a Docusaurus book into the Qdrant collection."""

from __future__ import annotations

import argparse
import asyncio
import sys

from lib.clients import open_openai
from lib.config import Config, ConfigError
from lib.index.indexer import CollectionMismatch, index_sources
from lib.index.vector_store import VectorStoreLocked, open_qdrant

EMBED_RETRIES = 5


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.ingest",
        description="Index Docusaurus docs folders or live sites. Unchanged chunks are not embedded again.",
    )
    parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL", help="a docs/ folder, or a site's URL")
    parser.add_argument("--collection", help="the collection (default: QDRANT_COLLECTION_NAME)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    parser.add_argument("--recreate", action="store_true", help="rebuild the collection from nothing")
    return parser.parse_args(argv)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, config: Config) -> int:
    qdrant = open_qdrant(config)
    embedder = open_openai(config)
    if embedder is not None:
        embedder = embedder.with_options(max_retries=EMBED_RETRIES)
    try:
        summary = await index_sources(
            args.sources,
            qdrant=qdrant,
            embedder=embedder,
            config=config,
            collection=args.collection,
            report=_say,
            dry_run=args.dry_run,
            recreate=args.recreate,
        )
    finally:
        await qdrant.close()
        if embedder is not None:
            await embedder.close()
    print(("dry run: nothing written\n" if args.dry_run else "") + summary.lines())
    return 1 if summary.skipped else 0


def main(argv=None) -> int:
    args = _arguments(argv)
    try:
        return asyncio.run(_run(args, Config.from_environ()))
    except (ConfigError, VectorStoreLocked, CollectionMismatch) as error:
        _say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
