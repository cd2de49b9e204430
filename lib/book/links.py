"""Where a built Docusaurus site serves a doc and its headings: the site's `url`, `baseUrl` and
`trailingSlash` applied to a doc's route, percent-encoded as a browser requests it.

What `docusaurus build` writes (@docusaurus/core's `pathnameToFilename`, `applyTrailingSlash`):

- `trailingSlash: false`: `x.html`, served at `/x`; the site root stays `/base/`.
- `trailingSlash: true`: `x/index.html`, served at `/x/`.
- unset: `x/index.html` as well, served at `/x/`, though the canonical link says `/x`. Links take the
  served form: it opens the page on every static host, with no redirect that a host may not make.
- nothing known (a docs folder given alone): the route as Docusaurus names it, as before.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from attrs import frozen

TRUE, FALSE, UNSET = "true", "false", "unset"
TRAILING_SLASH_VALUES = (TRUE, FALSE, UNSET)
_PATH_SAFE = "/:@!$&'()*+,;=~"
_FRAGMENT_SAFE = "/?:@!$&'()*+,;=~"
_HTML_FILE = re.compile(r"\.html?$", re.IGNORECASE)
# A docs instance's id as Docusaurus validates it: the book a source is linked under, and the API's `book`.
BOOK_ID = re.compile(r"[A-Za-z0-9_-]+")


def site_url(value: str) -> str:
    """A site's `url` as Docusaurus takes it: scheme and host (and port), no path; raises ValueError."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"must be an http(s) address such as https://example.org, got {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            f"must be the site's address without a path, such as {parts.scheme}://{parts.netloc} "
            f"(the path {parts.path!r} is the base URL: give it as the base URL), got {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def base_url(value: str) -> str:
    """A `baseUrl` with one leading and one trailing slash, as Docusaurus normalises it: `base` -> `/base/`."""
    inner = _path_inside(value, "/docs-site/")
    return f"/{inner}/" if inner else "/"


def route_base_path(value: str) -> str:
    """A `routeBasePath` with a leading slash and none at the end: `docs` -> `/docs`, `` -> `/`."""
    inner = _path_inside(value, "/docs")
    return f"/{inner}" if inner else "/"


def _path_inside(value: str, example: str) -> str:
    """A URL path without its outer slashes; ValueError for a URL, a query, a fragment or a backslash."""
    value = value.strip()
    if any(char in value for char in "?#\\") or "://" in value:
        raise ValueError(f"must be a path such as {example}, got {value!r}")
    return value.strip("/")


def trailing_slash(value: str) -> str:
    """`true`, `false` or `unset` (Docusaurus' default, where the key is left out)."""
    lowered = value.strip().lower()
    if lowered in ("undefined", "default"):
        lowered = UNSET
    if lowered not in TRAILING_SLASH_VALUES:
        raise ValueError(f"must be true, false or unset, got {value!r}")
    return lowered


@frozen
class Links:
    """How a site serves its routes: its address (None: links are paths), baseUrl, and trailingSlash."""

    site_url: str | None = None
    base_url: str = "/"
    trailing_slash: str | None = None  # TRUE, FALSE, UNSET, or None: not known, the route as named

    def page(self, route: str) -> str:
        """The page's address as served: `/handbook/beds/` -> `https://example.org/base/handbook/beds`."""
        path = re.sub(r"/{2,}", "/", f"{self.base_url}/{route}")
        if self.trailing_slash is not None and path not in ("/", self.base_url) and not _HTML_FILE.search(path):
            path = path.rstrip("/") if self.trailing_slash == FALSE else path.rstrip("/") + "/"
        encoded = quote(path, safe=_PATH_SAFE)
        return f"{self.site_url}{encoded}" if self.site_url else encoded


def section_url(page_url: str, anchor: str) -> str:
    """A heading's address: the page's, then the anchor percent-encoded (`#café` -> `#caf%C3%A9`)."""
    return f"{page_url}#{quote(anchor, safe=_FRAGMENT_SAFE)}" if anchor else page_url
