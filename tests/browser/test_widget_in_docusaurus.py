"""/widget.js on a page standing in for a Docusaurus doc page, in a real Chromium, against the service with no
model (answers quoted from the book): where the launcher sits, what a conversation keeps, a selection, and a
server that never answers.

One browser (the package's), one stand-in site and one service for the module; each test has its own context.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
from playwright.sync_api import Page, Route, expect

from lib.config import Config
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.pages import DocusaurusSite, Tab, ask
from tests.parts import index_book
from tests.service import Service

PASSAGE = "Nodes talk to each other over topics, and a launch file starts them all with one command."
TOPICS = [  # three questions on three subjects, and where each answer's first source must lead
    ("How do I deploy Bookbot to a Hugging Face Space?", "/docs/deploy/hugging-face-space#"),
    ("How many tokens does a chunk have by default?", "/docs/how-it-works/ingestion#splitting-by-size"),
    ("Which errors should my client retry?", "/docs/api/#which-errors-to-retry"),
]


@pytest.fixture(scope="module")
def docusaurus() -> Iterator[DocusaurusSite]:
    site = DocusaurusSite(PASSAGE)
    try:
        yield site
    finally:
        site.close()


@pytest.fixture(scope="module")
def offline(docusaurus, tmp_path_factory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("widget-docusaurus") / "data"
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(index_book, Config(data_dir=data, index_on_start=False, embeddings="none")).result()
    with Service({"DATA_DIR": str(data), "ALLOWED_ORIGINS": docusaurus.url}) as service:
        docusaurus.widget = service.url + "/widget.js"
        yield service


@pytest.fixture
def tabs(browser):
    """Opens tabs in fresh contexts (desktop or phone); their uncaught errors fail the test."""
    opened: list[tuple] = []

    def open_tab(viewport=DESKTOP) -> Tab:
        context = browser.new_context(viewport=viewport, has_touch=viewport is PHONE)
        tab = Tab(context.new_page())
        opened.append((context, tab))
        return tab

    yield open_tab
    for context, tab in opened:
        context.close()
        assert not tab.errors, f"uncaught errors in the page: {tab.errors}"


def launcher(page: Page):
    return page.get_by_role("button", name="Ask the book")


def open_panel(page: Page):
    launcher(page).click()
    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel).to_be_visible()
    return panel


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found, "not laid out"
    return found


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def first_source(answer) -> str:
    return answer.locator(".bb-sources li a").first.get_attribute("href")


def test_three_topics_a_source_link_and_back_keep_the_conversation(tabs, docusaurus, offline, artifacts):
    tab = tabs()
    page = tab.page
    page.goto(docusaurus.url + "/docs/intro")
    panel = open_panel(page)
    for question, where in TOPICS:
        answer = ask(panel, question)
        expect(answer).to_have_attribute("data-state", "done")
        assert first_source(answer).startswith(docusaurus.url + where), (question, first_source(answer))
    answers = [turn.inner_text() for turn in panel.locator(".bb-bot .bb-answer").all()]
    assert len(set(answers)) == 3 and not any("|" in text or "](" in text for text in answers)  # plain text
    sent = tab.sent("/v1/query")
    assert [len(body["history"]) for body in sent] == [0, 2, 4] and len({body["session_id"] for body in sent}) == 1

    # A source link is a full page load within the site: the panel and the conversation come back with it.
    with page.expect_navigation():
        panel.locator(".bb-bot").last.locator(".bb-sources li a").first.click()
    assert page.url.startswith(docusaurus.url + "/docs/api/")
    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel).to_be_visible()
    expect(panel.locator(".bb-user")).to_have_count(3)
    assert [turn.inner_text() for turn in panel.locator(".bb-bot .bb-answer").all()] == answers
    expect(panel.locator(".bb-bot").last.get_by_role("button", name="Helpful", exact=True)).to_be_visible()  # still rateable
    page.screenshot(path=artifacts / "widget-docusaurus-desktop.png")

    page.go_back()
    expect(page.get_by_role("dialog", name="Ask the book").locator(".bb-user")).to_have_count(3)
    fourth = ask(page.get_by_role("dialog", name="Ask the book"), "What is Reciprocal Rank Fusion?")
    expect(fourth).to_have_attribute("data-state", "done")
    assert len(tab.sent("/v1/query")[-1]["history"]) == 6 and tab.sent("/v1/query")[-1]["session_id"] == sent[0]["session_id"]

    # A new conversation forgets it all, on this page and the next.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".bb-user")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_visible()  # left open on a wide screen
    expect(page.locator(".bb-user")).to_have_count(0)
    expect(page.get_by_role("button", name="New conversation")).to_be_hidden()
    ask(page.get_by_role("dialog", name="Ask the book"), TOPICS[0][0])
    assert tab.sent("/v1/query")[-1]["history"] == [] and tab.sent("/v1/query")[-1]["session_id"] != sent[0]["session_id"]


def test_on_a_phone_the_launcher_keeps_clear_and_the_panel_leaves_the_navigation_usable(tabs, docusaurus, offline, artifacts):
    page = tabs(PHONE).page
    page.goto(docusaurus.url + "/docs/intro")
    back_to_top = page.locator(".theme-back-to-top-button")
    expect(launcher(page)).to_be_visible()
    assert not overlap(box(launcher(page)), box(back_to_top)), "the launcher covers Docusaurus' back-to-top button"

    # The page's mobile menu opens over everything: the widget steps aside, and comes back when it closes.
    page.get_by_role("button", name="Toggle navigation bar").click()
    expect(launcher(page)).to_be_hidden()
    last_item = page.locator(".navbar-sidebar .menu__link").last
    last_item.scroll_into_view_if_needed()
    expect(last_item).to_be_visible()
    page.locator(".navbar-sidebar__backdrop").click(position={"x": 370, "y": 400})
    expect(launcher(page)).to_be_visible()

    # The panel starts under the navigation bar, whose menu still opens, and its close button is in reach.
    panel = open_panel(page)
    navbar = box(page.locator(".navbar"))
    assert box(panel)["y"] >= navbar["y"] + navbar["height"] - 1
    answer = ask(panel, TOPICS[0][0])
    expect(answer).to_have_attribute("data-state", "done")
    page.screenshot(path=artifacts / "widget-docusaurus-phone.png")
    expect(panel.get_by_role("button", name="Close")).to_be_in_viewport()
    page.get_by_role("button", name="Toggle navigation bar").click()
    expect(panel).to_be_hidden()  # the menu, opened over the panel, is not covered by it
    page.locator(".navbar-sidebar__backdrop").click(position={"x": 370, "y": 400})
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    expect(launcher(page)).to_be_visible()
    assert not overlap(box(launcher(page)), box(back_to_top))


def test_on_a_desktop_the_launcher_keeps_clear_of_back_to_top_and_moves_left_when_asked(tabs, docusaurus, offline):
    page = tabs().page
    page.goto(docusaurus.url + "/docs/intro")
    back_to_top = box(page.locator(".theme-back-to-top-button"))
    right = box(launcher(page))
    assert not overlap(right, back_to_top) and right["x"] > DESKTOP["width"] / 2

    page.goto(docusaurus.url + "/docs/intro?data-position=bottom-left")
    left = box(launcher(page))
    assert left["x"] < 40 and left["y"] + left["height"] > DESKTOP["height"] - 40  # the corner, since nothing is there
    panel = box(open_panel(page))
    assert panel["x"] < 40 and not overlap(panel, back_to_top)


def test_a_selection_is_asked_about_alone_and_its_page_and_heading_are_the_source(tabs, docusaurus, offline):
    tab = tabs()
    page = tab.page
    page.goto(docusaurus.url + "/docs/launch")
    page.locator("#passage").select_text()
    page.get_by_role("button", name="Ask about this").click()
    panel = page.get_by_role("dialog", name="Ask the book")
    answer = ask(panel, "What does this mean?")

    (sent,) = tab.sent("/v1/query")
    assert sent["selected_text"] == PASSAGE
    assert sent["page_url"] == docusaurus.url + "/docs/launch#launch-files"
    assert sent["page_title"] == "Launch" and sent["page_section"] == "Launch files"
    text = answer.locator(".bb-answer").inner_text()
    assert "Selected on the page" not in text and "launch file starts them all" in text
    source = answer.locator(".bb-sources li a")
    expect(source).to_have_text("Launch › Launch files")
    expect(source).to_have_attribute("href", docusaurus.url + "/docs/launch#launch-files")


@pytest.fixture(scope="module")
def silent():
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_server_that_never_answers_costs_the_page_nothing(tabs, docusaurus, offline, silent):
    page = tabs().page
    # The script itself never arrives: the documented async tag lets the page finish its document and work.
    docusaurus.widget = silent + "/widget.js"
    try:
        page.goto(docusaurus.url + "/docs/intro", wait_until="domcontentloaded")
        page.locator("#own").click()
        expect(page.locator("#clicks")).to_have_text("1")
        expect(launcher(page)).to_have_count(0)
    finally:
        docusaurus.widget = offline.url + "/widget.js"

    # The script arrives, but the API never answers: asking waits quietly, the page keeps working, Stop ends it.
    def from_the_service(route: Route) -> None:
        route.fulfill(response=route.fetch(url=offline.url + "/widget.js"))

    page.route(silent + "/widget.js", from_the_service)
    docusaurus.widget = silent + "/widget.js"
    try:
        page.goto(docusaurus.url + "/docs/intro")  # the load event fires: nothing of the widget holds it
    finally:
        docusaurus.widget = offline.url + "/widget.js"
    panel = open_panel(page)
    panel.locator(".bb-input").fill(TOPICS[0][0])
    panel.locator(".bb-input").press("Enter")
    answer = panel.locator(".bb-bot").last
    expect(answer).to_have_attribute("data-state", "streaming")
    page.locator("#own").click()
    expect(page.locator("#clicks")).to_have_text("1")
    panel.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(panel.get_by_role("button", name="Ask")).to_be_visible()
