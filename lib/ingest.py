"""python -m lib.ingest PATH_OR_URL [...]: index a Docusaurus book into the vector collection."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Callable

import attrs

from lib.book import links
from lib.book.books import NoPages
from lib.book.site import SiteError
from lib.clients import open_openai
from lib.config import Config, ConfigError
from lib.index.embedding import EmbeddingFailed, open_embedder
from lib.index.indexer import CollectionMismatch, fill_embeddings, index_sources
from lib.index.migration import migrate_local_mode
from lib.index.minilm import ModelMissing
from lib.index.vectors import VectorStoreLocked, open_vectors

EMBED_RETRIES = 5


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.ingest",
        description="Index a Docusaurus site (its root folder: every docs instance is a book), one docs folder, "
        "or a live site by its address. Unchanged chunks are not embedded again. docusaurus.config is read "
        "without running it; each flag below replaces the value it gives (or the BOOK_* variable).",
    )
    parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL", help="a site's root folder, a docs folder, or a site's URL")
    parser.add_argument("--collection", help="the collection (default: QDRANT_COLLECTION_NAME)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    parser.add_argument("--recreate", action="store_true", help="rebuild the collection from nothing")
    parser.add_argument("--site-url", type=_checked(links.site_url), help="the site's url, e.g. https://example.org (BOOK_URL)")
    parser.add_argument("--base-url", type=_checked(links.base_url), help="the site's baseUrl, e.g. /base/ (BOOK_BASE_URL)")
    parser.add_argument("--route-base-path", type=_checked(links.route_base_path),
                        help="where one docs folder is served under baseUrl, e.g. /handbook (BOOK_ROUTE_BASE_PATH)")
    parser.add_argument("--trailing-slash", type=_checked(links.trailing_slash), metavar="{true,false,unset}",
                        help="the site's trailingSlash (BOOK_TRAILING_SLASH)")
    return parser.parse_args(argv)


def _checked(parse: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type that shows the parser's own message for a bad value."""

    def check(value: str) -> str:
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return check


def _with_flags(config: Config, args: argparse.Namespace) -> Config:
    """The configuration with each site value given by a flag in place of its variable."""
    given = {
        "book_url": args.site_url,
        "book_base_url": args.base_url,
        "book_route_base_path": args.route_base_path,
        "book_trailing_slash": args.trailing_slash,
    }
    return attrs.evolve(config, **{name: value for name, value in given.items() if value is not None})


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, config: Config) -> int:
    if args.collection:
        config = attrs.evolve(config, qdrant_collection_name=args.collection)
    vectors = open_vectors(config)
    client = open_openai(config)
    embedder = open_embedder(config, client.with_options(max_retries=EMBED_RETRIES) if client else None)
    try:
        migrated = await migrate_local_mode(config, vectors)
        if migrated:
            _say(f"migrated {migrated} points from Qdrant's local mode ({config.qdrant_path}) to {config.vectors_path}")
        summary = await index_sources(
            args.sources, vectors=vectors, embedder=embedder, config=config, report=_say,
            dry_run=args.dry_run, recreate=args.recreate,
        )
        if embedder is not None and not args.dry_run:
            summary.embedded = await fill_embeddings(vectors, embedder, lambda done, total: _say(f"embedded {done}/{total} chunks"))
    finally:
        await vectors.close()
        if client is not None:
            await client.close()
    print(("dry run: nothing written\n" if args.dry_run else "") + summary.lines())
    return 1 if summary.skipped else 0


def main(argv=None) -> int:
    args = _arguments(argv)
    try:
        return asyncio.run(_run(args, _with_flags(Config.from_environ(), args)))
    except (ConfigError, VectorStoreLocked, CollectionMismatch, EmbeddingFailed, ModelMissing, SiteError, NoPages) as error:
        _say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
