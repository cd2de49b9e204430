"""A citation opens its heading on the author's own site: the fixture Docusaurus site, built for real
(`trailingSlash: false`, baseUrl /base/, two books), served as a static host serves it, and indexed from its
root folder with nothing given by hand but the site's address (the loopback host stands in for
https://example.org). Asked from the chat page on the service and from the widget on a page of the site.
"""

from __future__ import annotations

import functools
import http.server
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import attrs
import pytest
from playwright.sync_api import expect

from lib.config import Config
from tests.browser.pages import ask
from tests.parts import index_book
from tests.service import Service
from tests.sitebuild import FIXTURE_SITE, built

# Where the heading the address names is: the element exists and the page was scrolled to it.
HEADING_SHOWN = """() => {
  const heading = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!heading) return null;
  const top = heading.getBoundingClientRect().top;
  return {text: heading.textContent.replace(/\u200b/g, "").trim(), inView: top >= 0 && top < window.innerHeight};
}"""


class _StaticHost(http.server.SimpleHTTPRequestHandler):
    """A static host as GitHub Pages or Netlify serve a Docusaurus build: `/x` is `x.html` when it exists;
    every page carries the widget's script tag, as the author's `scripts` config would add it."""

    widget = ""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if not self.path.split("?")[0].endswith("/") and path.with_name(path.name + ".html").is_file():
            self.path = self.path.split("?")[0] + ".html"
            path = Path(self.translate_path(self.path))
        if path.suffix == ".html" and path.is_file() and self.widget:
            page = path.read_bytes().replace(b"</head>", f'<script src="{self.widget}" defer></script></head>'.encode(), 1)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            return _Body(page)
        return super().send_head()

    def log_message(self, format, *args) -> None:
        pass


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, *args) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def book_site(tmp_path_factory) -> Iterator[tuple[str, type]]:
    """The build served under /base/, at http://127.0.0.1:PORT; the handler class, to set the widget's URL."""
    root = tmp_path_factory.mktemp("host")
    (root / "base").symlink_to(built("trailing-false"), target_is_directory=True)
    handler = type("Host", (_StaticHost,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="book-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def garden_service(book_site, tmp_path_factory) -> Iterator[Service]:
    site_url, handler = book_site
    config = Config(data_dir=tmp_path_factory.mktemp("garden-data"), index_on_start=False)
    # The site root, and its address: url, baseUrl, trailingSlash and both instances come from the config.
    with ThreadPoolExecutor(max_workers=1) as worker:  # Playwright's sync API keeps a loop running in this thread
        worker.submit(index_book, attrs.evolve(config, book_url=site_url), FIXTURE_SITE).result()
    env = {"DATA_DIR": str(config.data_dir), "ALLOWED_ORIGINS": site_url}
    with Service(env, log_path=tmp_path_factory.mktemp("garden-service") / "service.log") as running:
        handler.widget = running.url + "/widget.js"
        yield running


def test_from_the_chat_page_a_citation_opens_its_heading_on_the_book(tab, garden_service, book_site):
    site_url, _ = book_site
    page = tab.page
    page.goto(garden_service.url + "/")  # no ?book=: the sources' own addresses are enough
    answer = ask(page, "How wide should a bed be?")
    source = answer.locator(".bb-sources li a").first
    expect(source).to_have_attribute("href", site_url + "/base/handbook/beds#bed-widths")
    with page.expect_popup() as popup:
        answer.locator("a.bb-cite").first.click()
    book = popup.value
    book.wait_for_load_state("load")
    assert book.url == site_url + "/base/handbook/beds#bed-widths"
    assert book.evaluate(HEADING_SHOWN) == {"text": "Bed widths", "inView": True}


def test_from_the_widget_on_a_book_page_its_book_comes_first_and_a_citation_opens_its_heading(tab, garden_service, book_site):
    site_url, _ = book_site
    page = tab.page
    page.goto(site_url + "/base/guide/membership")
    page.get_by_role("button", name="Ask the book").click()
    panel = page.get_by_role("dialog", name="Ask the book")
    answer = ask(panel, "What is the setup?")  # both books have a Setup section
    assert tab.sent("/v1/query")[0]["book"] == "guide"  # <html class="plugin-docs plugin-id-guide">
    source = answer.locator(".bb-sources li a").first
    expect(source).to_have_attribute("href", site_url + "/base/guide/lending#setup")
    with page.expect_navigation():
        answer.locator("a.bb-cite").first.click()
    assert page.url == site_url + "/base/guide/lending#setup"
    assert page.evaluate(HEADING_SHOWN) == {"text": "Setup", "inView": True}
