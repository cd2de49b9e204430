"""A live Docusaurus site crawled politely into Pages: its own pages only, robots.txt obeyed, a few at a time."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator
from urllib.parse import urldefrag, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree

import attrs
import requests

from lib.book.html_page import Skipped, read_html
from lib.book.pages import Page, PageError

USER_AGENT = "rag-chatbot-api-crawler/0.1 (indexes a Docusaurus book to answer questions about it)"
_NOT_PAGES = re.compile(
    r"\.(?:png|jpe?g|gif|svg|webp|ico|css|js|mjs|json|xml|txt|pdf|zip|gz|tgz|mp4|webm|mp3|woff2?|ttf|eot)$",
    re.IGNORECASE,
)
_MAX_SITEMAPS = 50

log = logging.getLogger(__name__)


class _FetchFailed(Exception):
    """Raised when a URL can't be fetched, even after the retries."""


def crawl_site(
    url: str,
    *,
    session: requests.Session | None = None,
    max_workers: int = 4,
    timeout: float = 10,
    retries: int = 2,
    backoff: float = 0.5,
    site_url: str | None = None,
) -> Iterator[Page | PageError]:
    """Crawl the Docusaurus site at `url`, yielding each page read, or a PageError naming the URL that failed.

    `url` is a site root (its /sitemap.xml is read; without one, links are
    followed from the root), a sitemap (any URL ending in .xml), or a page
    (links are followed to the pages under its folder: /docs/intro leads to
    /docs/..., and to /docs itself). Connection errors, timeouts, 429 and 5xx
    are retried `retries` times, waiting backoff, 2 x backoff, 4 x backoff... seconds.

    A sitemap that lists its pages on another host (the production address,
    when a preview is crawled) is taken onto the host crawled, as the log says.
    Tag pages, generated category indexes, search and 404 pages are left out,
    counted in the log. Each page's `url` is where it was served, on the host
    crawled, or on `site_url` when given.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    own_session = session is None
    session = session or requests.Session()
    try:
        yield from _Crawl(session, max_workers, timeout, retries, backoff, site_url).run(url)
    finally:
        if own_session:
            session.close()


class _Crawl:
    def __init__(self, session, max_workers, timeout, retries, backoff, site_url=None):
        self._session = session
        self._max_workers = max_workers
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._site_url = site_url
        self._origin = ""
        self._robots = RobotFileParser()
        self._skipped: Counter = Counter()

    def run(self, url: str) -> Iterator[Page | PageError]:
        parts = urlsplit(url)
        self._origin = f"{parts.scheme}://{parts.netloc}".lower()
        try:
            self._robots = self._read_robots()
        except PageError as error:
            yield error
            return
        path = parts.path or "/"
        if path.lower().endswith(".xml"):
            try:
                pages = self._read_sitemap(url)
            except PageError as error:
                yield error
                return
            yield from self._fetch(pages, scope=None)
        elif path == "/":
            try:
                pages = self._read_sitemap(self._origin + "/sitemap.xml")
            except PageError as error:
                log.info("no usable sitemap (%s); following links from the root", error)
                yield from self._fetch([self._origin + "/"], scope="/")
            else:
                yield from self._fetch(pages, scope=None)
        else:
            yield from self._fetch([url], scope=path[: path.rfind("/") + 1])
        if self._skipped:
            counts = ", ".join(f"{count} {kind}{'s' if count > 1 else ''}" for kind, count in sorted(self._skipped.items()))
            log.warning("left out what is no page of the book: %s", counts)

    def _fetch(self, urls: Iterable[str], scope: str | None) -> Iterator[Page | PageError]:
        """Fetch the pages, a wave at a time; with a scope, follow links to the pages under it."""
        seen: set[str] = set()

        def admit(url: str) -> bool:
            if url in seen:
                return False
            seen.add(url)
            return self._allowed(url, scope or "/")

        queue = [url for url in map(_clean, urls) if admit(url)]
        pool = ThreadPoolExecutor(max_workers=self._max_workers)
        try:
            while queue:
                wave, queue = queue, []
                for result, links in pool.map(self._page, wave):
                    if isinstance(result, Skipped):
                        self._skipped[result.kind] += 1
                    else:
                        yield result
                    if scope is not None:
                        queue.extend(link for link in map(_clean, links) if admit(link))
        finally:
            # a caller that stops early doesn't wait for the rest of the wave
            pool.shutdown(wait=True, cancel_futures=True)

    def _allowed(self, url: str, scope: str) -> bool:
        path = urlsplit(url).path or "/"
        in_scope = path.startswith(scope) or path == scope.rstrip("/")  # /docs is the page of the folder /docs/
        if not self._same_site(url) or not in_scope or _NOT_PAGES.search(path):
            return False
        if not self._robots.can_fetch(USER_AGENT, url):
            log.info("skipping %s: disallowed by robots.txt", url)
            return False
        return True

    def _page(self, url: str) -> tuple[Page | PageError | Skipped, list[str]]:
        try:
            response = self._get(url)
        except _FetchFailed as error:
            return PageError(url, str(error)), []
        if response.status_code != 200:
            return PageError(url, f"HTTP {response.status_code}"), []
        final = response.url or url
        if not self._same_site(final):
            return PageError(url, f"redirects off the site, to {final}"), []
        content_type = response.headers.get("Content-Type", "")
        if content_type and "html" not in content_type.lower():
            return PageError(url, f"is not an HTML page ({content_type})"), []
        page, links = read_html(_decode(response), final)
        if isinstance(page, Page):
            page = attrs.evolve(page, url=(self._site_url or self._origin) + page.route)
        return page, links

    def _get(self, url: str) -> requests.Response:
        """GET with retries on connection errors, timeouts, 429 and 5xx; raise _FetchFailed at the end."""
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._session.get(url, timeout=self._timeout, headers={"User-Agent": USER_AGENT})
            except requests.Timeout:
                problem = f"timed out after {self._timeout:g} s"
                continue
            except requests.ConnectionError as error:
                problem = f"connection failed ({type(error).__name__})"
                continue
            except requests.RequestException as error:
                raise _FetchFailed(f"can't be fetched: {error}") from None
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            return response
        attempts = self._retries + 1
        raise _FetchFailed(f"{problem}, {attempts} attempt{'s' if attempts > 1 else ''}")

    def _read_robots(self) -> RobotFileParser:
        url = self._origin + "/robots.txt"
        robots = RobotFileParser(url)
        try:
            response = self._get(url)
        except _FetchFailed as error:
            raise PageError(url, f"{error}; not crawling a site whose robots.txt can't be read") from None
        if response.status_code in (401, 403):
            robots.disallow_all = True
        elif response.status_code >= 400:
            robots.allow_all = True
        else:
            robots.parse(_decode(response).splitlines())
        return robots

    def _read_sitemap(self, url: str) -> list[str]:
        """The page URLs of a sitemap, following a sitemap index to its sitemaps on this site."""
        pages: list[str] = []
        sitemaps, read = [url], 0
        while sitemaps and read < _MAX_SITEMAPS:
            sitemap = sitemaps.pop(0)
            read += 1
            try:
                response = self._get(sitemap)
            except _FetchFailed as error:
                raise PageError(sitemap, str(error)) from None
            if response.status_code != 200:
                raise PageError(sitemap, f"HTTP {response.status_code}")
            try:
                root = ElementTree.fromstring(response.content)
            except ElementTree.ParseError as error:
                raise PageError(sitemap, f"is not a valid sitemap ({error})") from None
            locations = [element.text.strip() for element in root.iter()
                         if element.tag.rsplit("}", 1)[-1] == "loc" and element.text and element.text.strip()]
            if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
                sitemaps.extend(location for location in locations
                                if self._same_site(location) and self._robots.can_fetch(USER_AGENT, location))
            else:
                pages.extend(self._onto_this_host(locations))
        return pages

    def _onto_this_host(self, locations: list[str]) -> list[str]:
        """The sitemap's pages on the host crawled: a site built for its production address lists them there."""
        moved: list[str] = []
        others: set[str] = set()
        for location in locations:
            parts = urlsplit(location)
            if parts.scheme in ("http", "https") and not self._same_site(location):
                others.add(f"{parts.scheme}://{parts.netloc}")
                location = self._origin + urlunsplit(("", "", parts.path or "/", parts.query, ""))
            moved.append(location)
        if others:
            log.warning("the sitemap lists its pages on %s; fetching them from %s instead",
                        ", ".join(sorted(others)), self._origin)
        return moved

    def _same_site(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower() == self._origin


def _clean(url: str) -> str:
    """The URL without fragment or query, so each page is fetched once."""
    parts = urlsplit(urldefrag(url).url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def _decode(response: requests.Response) -> str:
    match = re.search(r"charset=[\"']?([\w.-]+)", response.headers.get("Content-Type", ""), re.IGNORECASE)
    try:
        return response.content.decode(match[1] if match else "utf-8", errors="replace")
    except LookupError:
        return response.content.decode("utf-8", errors="replace")

