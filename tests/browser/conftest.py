"""A real headless Chromium against the service on loopback, the fake model behind it, and a stand-in Docusaurus site.

These tests never skip: without Chromium at /usr/bin/chromium (or $CHROMIUM) they fail, and say how to install it.
"""

from __future__ import annotations

import functools
import http.server
import os
import secrets
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from lib.config import Config
from tests.artifacts import ARTIFACTS
from tests.browser.pages import ADMIN_KEY, MARKUP_PAGE, Site, Tab
from tests.parts import BOOK, index_book
from tests.service import Service

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}; the browser tests need it (apt-get install chromium, "
            "or set CHROMIUM to its path). They fail rather than skip, so CI can't pass without them."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture(scope="package")
def site(tmp_path_factory) -> Iterator[Site]:
    """A tiny static site on its own port, standing in for the book's Docusaurus site."""
    root = tmp_path_factory.mktemp("site")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="test-site", daemon=True)
    thread.start()
    try:
        yield Site(root=root, url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="package")
def book_data(tmp_path_factory, openai_server) -> Path:
    """The bundled book plus a page full of markup, indexed with the loopback model's embeddings."""
    book = tmp_path_factory.mktemp("book") / "docs"
    shutil.copytree(BOOK, book)
    (book / "markup-in-passages.md").write_text(MARKUP_PAGE)
    data_dir = tmp_path_factory.mktemp("browser-data")
    config = Config(data_dir=data_dir, openai_base_url=openai_server.base_url, index_on_start=False)
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(index_book, config, book).result()
    return data_dir


@pytest.fixture(scope="package")
def service(book_data, site, openai_server, tmp_path_factory) -> Iterator[Service]:
    env = {
        "DATA_DIR": str(book_data),
        "OPENAI_BASE_URL": openai_server.base_url,
        # A key the browser must never see; the fake model accepts any.
        "OPENAI_API_KEY": "sk-test-" + secrets.token_hex(12),
        "ADMIN_API_KEY": ADMIN_KEY,
        "ALLOWED_ORIGINS": site.url,
        # Every page here asks from one address: on a fast machine the whole package
        # sends more than the default 30 questions and ratings a minute.
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_DAY": "0",
    }
    log = tmp_path_factory.mktemp("browser-service") / "service.log"
    with Service(env, log_path=log) as running:
        yield running


@pytest.fixture
def tab(browser, fake_openai) -> Iterator[Tab]:
    """A fresh browser context and page at a desktop size; its uncaught errors fail the test."""
    context = browser.new_context(viewport=DESKTOP)
    page: Page = context.new_page()
    opened = Tab(page)
    try:
        yield opened
    finally:
        context.close()
    assert not opened.errors, f"uncaught errors in the page: {opened.errors}"
    assert not opened.dialogs, f"the page opened dialogs: {opened.dialogs}"


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
