"""python -m lib.ingest PATH_OR_URL [...]: index a Docusaurus book into the Qdrant collection."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from lib.clients import VectorStoreLocked, open_openai, open_qdrant
from lib.config import Config, ConfigError
from lib.indexer import CollectionMismatch, chunks_of, index_chunks, load_pages

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


def _canonical(source: str) -> str:
    """How a source is recorded in the collection: a URL as given, a folder as an absolute path."""
    return source if source.startswith(("http://", "https://")) else str(Path(source).resolve())


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, config: Config) -> int:
    pages, failed = await asyncio.to_thread(load_pages, args.sources, config, _say)
    chunks = chunks_of(pages, config)
    _say(f"{len(pages)} pages, {len(chunks)} chunks")
    qdrant = open_qdrant(config)
    embedder = open_openai(config)
    if embedder is not None:
        embedder = embedder.with_options(max_retries=EMBED_RETRIES)
    try:
        summary = await index_chunks(
            chunks,
            qdrant=qdrant,
            embedder=embedder,
            config=config,
            collection=args.collection or config.qdrant_collection_name,
            sources=[_canonical(source) for source in args.sources],
            keep_sources=[error.source for error in failed],
            dry_run=args.dry_run,
            recreate=args.recreate,
            progress=_say,
        )
    finally:
        await qdrant.close()
        if embedder is not None:
            await embedder.close()
    summary.files = len(pages) + len(failed)
    summary.skipped = [str(error) for error in failed]
    print(("dry run: nothing written\n" if args.dry_run else "") + summary.lines())
    return 1 if failed else 0


def main(argv=None) -> int:
    args = _arguments(argv)
    try:
        return asyncio.run(_run(args, Config.from_environ()))
    except (ConfigError, VectorStoreLocked, CollectionMismatch) as error:
        _say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
