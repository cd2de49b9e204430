"""/widget.js on a stand-in Docusaurus page served from another origin, in a real Chromium."""

from __future__ import annotations

from playwright.sync_api import Route, expect

from tests.browser.conftest import PHONE
from tests.browser.pages import WIDGET_QUESTION, ask
from tests.service import REPO, free_port

WIDGET = REPO / "lib" / "static" / "widget.js"
PASSAGE = "Nodes talk to each other over topics, and a launch file starts them all with one command."

# A book page with hostile styles of its own, which must not reach the widget, and a button of its own.
HOST_PAGE = """<!doctype html>
<html lang="en" data-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Launch files | The book</title>
<style>
  * {{ font-family: serif !important; letter-spacing: 3px; }}
  button {{ background: rgb(255, 0, 0) !important; color: yellow; }}
  div {{ padding: 40px; }}
  body {{ margin: 0 auto; max-width: 40em; line-height: 1.6; }}
</style>
<script src="{widget}" async></script>
</head>
<body>
<h1>Launch files</h1>
<p id="passage">{passage}</p>
<p>Clicks on the page's own button: <output id="clicks">0</output></p>
<button id="own" onclick="document.getElementById('clicks').value = +document.getElementById('clicks').value + 1">Own button</button>
</body>
</html>
"""


def host_page(site, name: str, widget: str) -> str:
    return site.write(name, HOST_PAGE.format(widget=widget, passage=PASSAGE))


def open_widget(page):
    page.get_by_role("button", name="Ask the book").click()
    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel).to_be_visible()
    return panel


def test_adds_a_button_whose_panel_answers_with_links_into_this_site(tab, service, site, fake_openai, artifacts):
    page = tab.page
    page.goto(host_page(site, "launch.html", service.url + "/widget.js"))
    launcher = page.get_by_role("button", name="Ask the book")
    expect(launcher).to_be_visible()
    # The page's styles stop at the shadow root; the page's own button keeps them.
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(255, 0, 0)"
    assert page.locator("#own").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 0, 0)"

    panel = open_widget(page)
    answer = ask(panel, WIDGET_QUESTION)

    expect(answer).to_have_attribute("data-state", "done")
    assert [r.url for r in tab.requests if r.method == "POST"] == [service.url + "/v1/query"]
    source = answer.locator(".bb-sources li a").first
    href = source.get_attribute("href")
    assert href.startswith(site.url + "/docs/"), "sources lead into the site the reader is on"
    citation = answer.locator("a.bb-cite").first
    expect(citation).to_have_attribute("href", href)
    assert citation.get_attribute("target") is None
    page.screenshot(path=artifacts / "widget-desktop.png")
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "widget-phone.png")

    with page.expect_navigation():
        citation.click()
    assert page.url == href


def test_asks_about_the_text_the_reader_selected(tab, service, site, fake_openai, artifacts):
    fake_openai.reply = "The passage says that a launch file starts every node with one command."
    page = tab.page
    url = host_page(site, "selection.html", service.url + "/widget.js")
    page.goto(url)
    page.locator("#passage").select_text()
    chip = page.get_by_role("button", name="Ask about this")
    expect(chip).to_be_visible()
    page.screenshot(path=artifacts / "widget-selection.png")
    chip.click()

    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel.locator(".bb-quote")).to_contain_text(PASSAGE[:40])
    answer = ask(panel, "What does this mean?")

    expect(answer.locator(".bb-note")).to_have_text("Answered from your selection")
    (sent,) = tab.sent("/v1/query")
    assert sent["query"] == "What does this mean?"
    # The selection alone; the page it came from goes apart, and comes back as the answer's source.
    assert sent["selected_text"] == PASSAGE
    assert sent["page_url"] == url and sent["page_title"] == "Launch files" and "page_section" not in sent
    expect(answer.locator(".bb-sources li a")).to_have_attribute("href", url)
    expect(panel.locator(".bb-quote")).to_be_hidden()


def test_shows_answer_markup_as_text_without_any_page_policy_to_help(tab, service, site, fake_openai):
    fake_openai.reply = "Tags: <img src=x onerror=\"window.__pwned=1\"> <script>window.__pwned=2</script> [1]"
    page = tab.page
    page.goto(host_page(site, "markup.html", service.url + "/widget.js"))
    answer = ask(open_widget(page), WIDGET_QUESTION)
    expect(answer.locator(".bb-answer")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert answer.locator(".bb-answer img, .bb-answer script").count() == 0
    assert page.evaluate("window.__pwned") is None


def _serve_the_widget(route: Route) -> None:
    route.fulfill(status=200, content_type="text/javascript", body=WIDGET.read_text())


def test_an_api_that_is_down_leaves_the_page_working_and_says_so_quietly(tab, site):
    page = tab.page
    closed = f"http://127.0.0.1:{free_port()}"
    # The widget itself can't be fetched: the page doesn't notice.
    page.goto(host_page(site, "no-widget.html", closed + "/widget.js"))
    page.locator("#own").click()
    expect(page.locator("#clicks")).to_have_text("1")
    expect(page.get_by_role("button", name="Ask the book")).to_have_count(0)

    # The widget loads, from an address whose API is down: a quiet message, and nothing else.
    page.route(closed + "/widget.js", _serve_the_widget)
    page.goto(host_page(site, "api-down.html", closed + "/widget.js"))
    answer = ask(open_widget(page), WIDGET_QUESTION)
    expect(answer).to_have_attribute("data-problem", "network")
    expect(answer.locator(".bb-problem")).to_have_text(
        "The book's assistant can't be reached. Check your connection and try again."
    )
    assert [r.url for r in tab.requests if r.method == "POST"] == [closed + "/v1/query"]
    page.get_by_role("button", name="Close").click()
    page.locator("#own").click()
    expect(page.locator("#clicks")).to_have_text("1")  # a fresh page: its first click
    assert not tab.errors
