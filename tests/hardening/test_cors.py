"""ALLOWED_ORIGINS: preflights answered for the origins listed, nothing for any other, `*` only when written.

First as the protocol goes (OPTIONS with Origin and Access-Control-Request-*),
then in a real Chromium: a page on an allowed origin and one on another call
the API with fetch(), and the browser makes its own preflight.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from lib.config import Config, ConfigError
from tests.hardening.conftest import running
from tests.service import free_port

BOOK_SITE = "https://book.example.org"
LOCAL_SITE = "http://localhost:3000"
KEY = "widget-key-1234567890"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-api-key"}
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


PAGE_PORT = free_port()  # the allowed page's origin must be known before the service starts
PAGE_SITE = f"http://127.0.0.1:{PAGE_PORT}"


@pytest.fixture(scope="module")
def service(tmp_path_factory, sparse_index):
    env = {"ALLOWED_ORIGINS": f"{BOOK_SITE}, {LOCAL_SITE}/, {PAGE_SITE}", "API_KEYS": KEY, "RATE_LIMIT_PER_MINUTE": "1000"}
    with running(tmp_path_factory.mktemp("cors"), env, sparse_index) as started:
        yield started


@pytest.fixture(scope="module")
def api(service):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        yield client


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("access-control-")}


@pytest.mark.parametrize("origin", [BOOK_SITE, LOCAL_SITE])
def test_a_preflight_from_an_allowed_origin_is_answered(api, origin):
    response = api.options("/v1/query", headers={"Origin": origin, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-api-key"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"] and "Access-Control-Allow-Credentials" not in response.headers


def test_the_answer_itself_lets_the_page_read_the_limit_headers(api):
    response = api.post("/v1/feedback", json={"answer_id": "ans_cors", "rating": 1}, headers={"Origin": BOOK_SITE, "X-API-Key": KEY})
    assert response.status_code == 201 and response.headers["Access-Control-Allow-Origin"] == BOOK_SITE
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert all(name in exposed for name in ("X-Request-ID", "Retry-After", "X-RateLimit-Remaining"))


@pytest.mark.parametrize("origin", ["https://evil.example", "https://book.example.org.evil.example", "null", "HTTPS://BOOK.EXAMPLE.ORG:443"])
def test_another_origin_gets_no_cors_header_at_all(api, origin):
    preflight = api.options("/v1/query", headers={"Origin": origin, **PREFLIGHT})
    request = api.post("/v1/query", json={"query": "chunk size?"}, headers={"Origin": origin, "X-API-Key": KEY})
    assert cors_headers(preflight) == {} and cors_headers(request) == {}
    assert request.status_code == 200  # CORS is the browser's rule: the server answers, the page can't read it


def preflight_in_process(allowed_origins: tuple[str, ...], origin: str) -> dict[str, str]:
    """A preflight to the app built in this process: no handler is reached, so no dependency is needed."""
    import falcon.testing

    import router
    from lib.metrics import Metrics

    app = router.create_app(clients=SimpleNamespace(config=Config(allowed_origins=allowed_origins), metrics=Metrics()))
    result = falcon.testing.TestClient(app).simulate_options("/v1/query", headers={"Origin": origin, **PREFLIGHT})
    return {name: value for name, value in result.headers.items() if name.lower().startswith("access-control-")}


def test_without_allowed_origins_no_page_elsewhere_may_call():
    assert preflight_in_process((), BOOK_SITE) == {}


def test_any_origin_only_when_star_is_written():
    assert preflight_in_process(("*",), "https://anyone.example")["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("value", [f"*,{BOOK_SITE}", "book.example.org", "https://book.example.org/docs", "https://*.example.org"])
def test_a_bad_allowed_origins_names_the_variable(value):
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        Config.from_environ({"ALLOWED_ORIGINS": value})


def test_an_origin_is_kept_as_a_browser_sends_it():
    assert Config.from_environ({"ALLOWED_ORIGINS": "https://Book.Example.org/, http://[::1]:3000"}).allowed_origins == (
        "https://book.example.org",
        "http://[::1]:3000",
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def pages(tmp_path):
    """Two tiny sites on loopback: one whose origin is allowed, one whose is not."""
    (tmp_path / "index.html").write_text("<!doctype html><title>a page</title>")
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) for port in (PAGE_PORT, 0)]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    finally:
        for server, thread in zip(servers, threads):
            server.shutdown()
            server.server_close()
            thread.join(10)


FETCH = """async ([url, key]) => {
  try {
    const response = await fetch(url + "/v1/query", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-API-Key": key},
      body: JSON.stringify({query: "How many tokens does a chunk have by default?"}),
    });
    return {status: response.status, remaining: response.headers.get("X-RateLimit-Remaining"), mode: (await response.json()).mode};
  } catch (error) {
    return {error: String(error)};
  }
}"""


def test_a_real_browser_preflights_and_only_the_allowed_page_reads_the_answer(service, pages):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}; install it (apt-get install chromium) or set CHROMIUM")
    allowed, other = pages
    preflights_before = service.log().count('"method": "OPTIONS"')
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            results = []
            for origin in (allowed, other):
                page = browser.new_page()
                page.goto(origin + "/index.html")
                results.append(page.evaluate(FETCH, [service.url, KEY]))
                page.close()
        finally:
            browser.close()
    assert results[0]["status"] == 200 and results[0]["mode"] == "extractive" and results[0]["remaining"].isdigit()
    assert "Failed to fetch" in results[1]["error"]
    assert service.log().count('"method": "OPTIONS"') - preflights_before == 2  # the browser asked first, from both pages
