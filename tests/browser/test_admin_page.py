"""The analytics page at /admin, in a real Chromium, over a service whose log was seeded with a known week."""

from __future__ import annotations

import asyncio
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from lib.config import Config
from lib.storage import open_store
from tests import analytics_log as log
from tests.browser.conftest import PHONE
from tests.browser.pages import ADMIN_KEY
from tests.service import Service

LOOPBACK = ("127.0.0.1", "localhost")


def _seeded(folder: Path, week: log.Week) -> Path:
    async def run():
        store = open_store(Config(data_dir=folder))
        try:
            await log.seed(store, week)
        finally:
            await store.close()

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, run()).result()
    return folder


@pytest.fixture(scope="module")
def week() -> log.Week:
    return log.Week(datetime.now(timezone.utc).date())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, week) -> Path:
    return _seeded(tmp_path_factory.mktemp("admin-data"), week)


@pytest.fixture(scope="module")
def admin_service(seeded, tmp_path_factory) -> Iterator[Service]:
    env = {"DATA_DIR": str(seeded), "ADMIN_API_KEY": ADMIN_KEY}
    with Service(env, log_path=tmp_path_factory.mktemp("admin-service") / "service.log") as running:
        yield running


def serve(tmp_path: Path, seeded: Path, **env: str) -> Service:
    data = tmp_path / "data"
    shutil.copytree(seeded, data)
    return Service({"DATA_DIR": str(data), **env}, log_path=tmp_path / "service.log")


def analytics(service: Service, period: str = "week") -> dict:
    response = httpx.get(service.url + "/v1/admin/analytics", params={"period": period}, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    response.raise_for_status()
    return response.json()


def sign_in(page: Page, service: Service, key: str = ADMIN_KEY) -> None:
    page.goto(service.url + "/admin")
    page.locator("#key").fill(key)
    page.locator("#key").press("Enter")


def shown_dashboard(page: Page):
    dashboard = page.locator("#dashboard")
    expect(dashboard).to_be_visible()
    return dashboard


def percent(share: float) -> str:
    return f"{round(share * 1000) / 10:g}%"


def test_draws_the_charts_and_shows_the_figures_of_the_json(tab, admin_service, week, artifacts):
    page = tab.page
    sign_in(page, admin_service)
    dashboard = shown_dashboard(page)
    data = analytics(admin_service)
    days, totals = data["by_day"], data["totals"]

    questions = dashboard.locator("svg[data-chart=questions]")
    expect(questions.locator("g.day")).to_have_count(7)
    outcomes = ("answered", "extractive", "refused")
    expect(questions.locator("rect.bar")).to_have_count(sum(1 for day in days for name in outcomes if day[name]))
    drawn = [sum(int(v) for v in questions.locator(f"g.day[data-day='{day['day']}'] rect").evaluate_all("rs => rs.map(r => r.dataset.value)")) for day in days]
    assert drawn == [day["questions"] for day in days] == [3, 4, 0, 0, 0, 0, 1]
    latency = dashboard.locator("svg[data-chart=latency]")
    expect(latency.locator("circle.point")).to_have_count(2 * sum(1 for day in days if day["latency_ms"]["p50"] is not None))
    assert latency.locator(f"circle.s-p95[data-day='{week.day(2)}']").get_attribute("data-value") == "900"
    votes = dashboard.locator("svg[data-chart=votes] rect.bar")
    expect(votes).to_have_count(sum(1 for day in days for name in ("up", "down") if day[name]))
    tokens = dashboard.locator("svg[data-chart=tokens] rect.bar")
    expect(tokens).to_have_count(sum(1 for day in days for name in ("prompt_tokens", "completion_tokens") if day[name]))

    def stat(name):
        return dashboard.locator(f"[data-stat={name}] .value")

    expect(stat("questions")).to_have_text(str(totals["questions"]))
    expect(stat("answered")).to_have_text(percent(totals["shares"]["answered"]))
    expect(stat("extractive")).to_have_text(percent(totals["shares"]["extractive"]))
    expect(stat("refused")).to_have_text(percent(totals["shares"]["refused"]))
    expect(stat("votes")).to_have_text(f"▲ {totals['up']} ▼ {totals['down']}")
    expect(stat("latency")).to_have_text("50 ms / 900 ms")
    expect(stat("tokens")).to_have_text(f"{totals['prompt_tokens'] + totals['completion_tokens']:,}")
    expect(stat("cost")).to_have_text("unknown")
    expect(dashboard.locator("[data-stat=cost] .sub")).to_contain_text(log.UNPRICED)
    expect(dashboard.locator("[data-table=models] tbody tr")).to_have_count(len(data["models"]))

    asked = dashboard.locator("[data-table=most-asked] tbody tr")
    assert [row.split("\t") for row in asked.evaluate_all("rs => rs.map(r => r.innerText)")] == [
        [row["query"], str(row["count"]), str(row["refused"])] for row in data["most_asked"]
    ]
    refused = dashboard.locator("[data-table=most-refused] tbody tr td:first-child")
    expect(refused).to_have_text([row["query"] for row in data["most_refused"]])
    shares = dashboard.locator("svg[data-chart=outcomes] rect.bar")
    assert shares.evaluate_all("rs => rs.map(r => r.dataset.series + '=' + r.dataset.value)") == [
        "answered=4", "extractive=1", "refused-low_score=2", "refused-no_hits=1",
    ]

    # The worst answers are one click away: the row opens on the comments, the text and the cited sections.
    worst = dashboard.locator("details.worst")
    expect(worst).to_have_count(len(data["most_down_voted"]))
    first = worst.first
    expect(first).to_have_attribute("data-answer-id", "a1")
    expect(first.locator(".detail")).to_be_hidden()
    first.locator("summary").click()
    expect(first.locator(".answer-text")).to_have_text("Nodes talk over DDS [1].")
    expect(first.locator(".comments")).to_contain_text(log.WRONG_COMMENT)
    # The cited url is a path (indexed with no site address known) and the page is given no ?book=: it is
    # shown as text, never linked to this server.
    cited = first.locator(".cited li").first
    expect(cited).to_have_text("ROS 2 Architecture › Nodes and topics")
    expect(first.locator(".cited a")).to_have_count(0)
    page.screenshot(path=artifacts / "admin-page-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "admin-page-phone.png", full_page=True)

    page.get_by_role("button", name="Month").click()
    expect(dashboard.locator("svg[data-chart=questions] g.day")).to_have_count(30)
    assert page.url.endswith("?period=month")
    assert page.evaluate("sessionStorage.getItem('bookbot.adminKey')") == ADMIN_KEY
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    assert {urlsplit(request.url).hostname for request in tab.requests} <= set(LOOPBACK), "a request left loopback"
    calls = [r for r in tab.requests if "/v1/admin/analytics" in r.url]
    assert len(calls) == 2 and all(r.headers["authorization"] == f"Bearer {ADMIN_KEY}" for r in calls)


def test_with_the_books_address_a_cited_path_links_into_the_book(tab, admin_service, week):
    page = tab.page
    page.goto(admin_service.url + "/admin?book=https://book.example/")
    page.locator("#key").fill(ADMIN_KEY)
    page.locator("#key").press("Enter")
    worst = shown_dashboard(page).locator("details.worst").first
    worst.locator("summary").click()
    expect(worst.locator(".cited a").first).to_have_attribute("href", "https://book.example" + log.ARCHITECTURE["url"])


def test_without_a_key_only_the_prompt_shows_and_nothing_is_asked_of_the_server(tab, admin_service):
    page = tab.page
    page.goto(admin_service.url + "/admin")
    expect(page.locator("#key")).to_be_focused()
    expect(page.locator("#key-form")).to_contain_text("ADMIN_API_KEY")
    expect(page.locator("#dashboard")).to_be_hidden()
    expect(page.locator("#controls")).to_be_hidden()
    page.locator("button[type=submit]").click()
    expect(page.locator("#message")).to_have_text("Enter the key first.")
    assert not [r.url for r in tab.requests if "/v1/" in r.url]


def test_a_wrong_key_is_refused_forgotten_and_shows_nothing(tab, admin_service, artifacts):
    page = tab.page
    sign_in(page, admin_service, key="not-the-key")
    expect(page.locator("#message")).to_have_text("The server refused that key: it is not its ADMIN_API_KEY.")
    expect(page.locator("#dashboard")).to_be_hidden()
    expect(page.locator("#dashboard *")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('bookbot.adminKey')") is None
    page.screenshot(path=artifacts / "admin-page-wrong-key.png")


def test_forgetting_the_key_clears_the_page(tab, admin_service):
    page = tab.page
    sign_in(page, admin_service)
    shown_dashboard(page)
    page.get_by_role("button", name="Forget the key").click()
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#dashboard *")).to_have_count(0)
    page.reload()
    expect(page.locator("#key-form")).to_be_visible()


def test_says_the_page_is_switched_off_without_admin_api_key(tab, seeded, tmp_path):
    with serve(tmp_path, seeded) as service:
        refused = httpx.get(service.url + "/v1/admin/analytics", headers={"Authorization": "Bearer anything"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert refused.json()["request_id"] == refused.headers["X-Request-ID"]
        sign_in(tab.page, service, key="anything")
        expect(tab.page.locator("#message")).to_contain_text("switched off on this server: it has no ADMIN_API_KEY")
        expect(tab.page.locator("#dashboard")).to_be_hidden()


def test_store_queries_false_hides_every_question_on_the_page(tab, seeded, tmp_path, artifacts):
    with serve(tmp_path, seeded, ADMIN_API_KEY=ADMIN_KEY, STORE_QUERIES="false") as service:
        page = tab.page
        sign_in(page, service)
        dashboard = shown_dashboard(page)
        page.locator("details.worst summary").first.click()
        expect(dashboard.locator(".note")).to_contain_text("STORE_QUERIES=false")
        expect(dashboard.locator("[data-stat=questions] .value")).to_have_text("8")
        expect(dashboard.locator("[data-table=most-asked] tbody tr")).to_have_count(5)
        text = page.locator("body").inner_text()
        assert not [question for question in log.QUESTIONS if question in text]
        assert not [question for question in log.QUESTIONS if question in json.dumps(analytics(service))]
        assert "hidden (STORE_QUERIES=false)" in text
