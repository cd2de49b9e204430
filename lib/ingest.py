"""python -m lib.ingest PATH_OR_URL [...]: index a Docusaurus book into the Qdrant collection."""

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
from lib.index.indexer import CollectionMismatch, index_sources
from lib.index.vector_store import VectorStoreLocked, open_qdrant

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
        return asyncio.run(_run(args, _with_flags(Config.from_environ(), args)))
    except (ConfigError, VectorStoreLocked, CollectionMismatch, SiteError, NoPages) as error:
        _say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
