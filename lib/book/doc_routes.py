"""The route Docusaurus serves a doc at, from its path in the docs folder and its front matter.

Mirrors @docusaurus/plugin-content-docs (docs.ts, slug.ts, numberPrefix.ts) and the
`resolvePathname`/`normalizeUrl` helpers of @docusaurus/utils.
"""

from __future__ import annotations

import re
from typing import Any

_NUMBER_PREFIX = re.compile(r"(?P<number>\d+)\s*[-_.]+\s*(?P<rest>[^-_.\s].*)")
# Dates (2021-01-31-post) and versions (1.2-notes) are not number prefixes
_NOT_A_PREFIX = re.compile(r"\d+[-_.]\d+")
_INDEX_NAMES = ("index", "readme")


def strip_number_prefix(name: str) -> str:
    """`01-intro` -> `intro`, `003 - Setup` -> `Setup`; `2021-01-31-notes` and `1.2-notes` stay."""
    if _NOT_A_PREFIX.match(name):
        return name
    match = _NUMBER_PREFIX.fullmatch(name)
    return match["rest"] if match else name


def doc_route(
    source: str, front_matter: dict[str, Any], route_base_path: str = "/docs", *, number_prefixes: bool = True
) -> tuple[str, str]:
    """Return (route, id) of the doc at `source`, a posix path relative to the docs folder.

    The id is the file's own id: front matter `id`, else the file name without
    extension and number prefix (none is stripped when `number_prefixes` is
    False: `numberPrefixParser: false`). Raises ValueError for an id containing a slash.
    """
    strip = strip_number_prefix if number_prefixes else str
    directory, _, file_name = source.rpartition("/")
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    given_id = front_matter.get("id")
    doc_id = str(given_id) if given_id is not None else strip(stem)
    if "/" in doc_id:
        raise ValueError(f"id {doc_id!r} can't contain a slash")

    if directory:
        directory_slug = "/" + "/".join(strip(part) for part in directory.split("/")) + "/"
    else:
        directory_slug = "/"
    given_slug = front_matter.get("slug")
    slug = str(given_slug) if given_slug is not None else None

    if slug and slug.startswith("/"):
        doc_slug = slug
    elif not slug and _is_category_index(stem, directory):
        doc_slug = directory_slug
    else:
        doc_slug = resolve_pathname(slug if slug is not None else doc_id, directory_slug)
    return join_route(route_base_path, doc_slug), doc_id


def _is_category_index(stem: str, directory: str) -> bool:
    """index.md, README.md or <folder>/<folder>.md, in any case: the doc is its folder's page."""
    folder = directory.rsplit("/", 1)[-1] if directory else "."
    return stem.lower() in (*_INDEX_NAMES, folder.lower())


def resolve_pathname(to: str, base: str) -> str:
    """Resolve `to` against `base` the way the resolve-pathname package (and so Docusaurus) does."""
    to_parts = to.split("/") if to else []
    parts = base.split("/") if base else []
    must_end_absolute = to.startswith("/") or base.startswith("/")
    if to.startswith("/"):
        parts = to_parts
    elif to_parts:
        parts = parts[:-1] + to_parts
    if not parts:
        return "/"
    has_trailing_slash = parts[-1] in (".", "..", "")
    kept: list[str] = []
    up = 0
    for part in reversed(parts):
        if part == ".":
            continue
        if part == "..":
            up += 1
        elif up:
            up -= 1
        else:
            kept.append(part)
    kept.reverse()
    if not must_end_absolute:
        kept = [".."] * up + kept
    if must_end_absolute and (not kept or kept[0] != ""):
        kept.insert(0, "")
    result = "/".join(kept)
    if has_trailing_slash and not result.endswith("/"):
        result += "/"
    return result


def join_route(route_base_path: str, slug: str) -> str:
    """`/docs` + `/guide/` -> `/docs/guide/`; `/` + `/intro` -> `/intro` (normalizeUrl)."""
    base = route_base_path.strip("/")
    route = f"/{base}/{slug}" if base else f"/{slug}"
    return re.sub(r"/{2,}", "/", route)
