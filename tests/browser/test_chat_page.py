"""The chat page at /, in a real Chromium: asking, streaming, sources, ratings, history, failures, safety."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import PHONE
from tests.browser.pages import (
    ADMIN_KEY,
    MARKUP_QUESTION,
    WIDGET_QUESTION,
    ask,
    feedback_stored,
)

MARKDOWN_REPLY = (
    "Add **one script tag** to `docusaurus.config.js` [1].\n\n"
    "- list it under *scripts*\n"
    "- rebuild and deploy the site [2]\n\n"
    "```js\nscripts: [{src: 'https://example.org/widget.js', defer: true}],\n```\n"
    "See [the guide](/docs/widget-and-chat-page) for more."
)

# Counts the distinct texts the last answer shows while it streams.
WATCH_ANSWER = """() => {
  window.__answerStates = new Set();
  new MutationObserver(() => {
    const answers = document.querySelectorAll('.bb-bot .bb-answer');
    if (answers.length) window.__answerStates.add(answers[answers.length - 1].textContent);
  }).observe(document.getElementById('chat'), {subtree: true, childList: true, characterData: true});
}"""


def open_chat(tab, service, site=None):
    page = tab.page
    page.goto(service.url + "/" + (f"?book={site.url}" if site else ""))
    expect(page.locator(".bb-input")).to_be_focused()
    return page


def test_streams_the_answer_and_lists_its_sources(tab, service, site, fake_openai, artifacts):
    fake_openai.reply = MARKDOWN_REPLY
    fake_openai.token_delay = 0.03
    page = open_chat(tab, service, site)
    page.evaluate(WATCH_ANSWER)
    started = time.perf_counter()

    answer = ask(page, WIDGET_QUESTION)

    print(f"answered in {time.perf_counter() - started:.2f} s")
    expect(answer).to_have_attribute("data-state", "done")
    states = page.evaluate("window.__answerStates.size")
    assert states > 3, f"the answer appeared in {states} steps; it should grow as it streams"
    body = answer.locator(".bb-answer")
    expect(body.locator("strong")).to_have_text("one script tag")
    expect(body.locator("li")).to_have_count(2)
    expect(body.locator("pre code")).to_contain_text("scripts: [{src:")
    expect(body.locator("a", has_text="the guide")).to_have_attribute("href", site.url + "/docs/widget-and-chat-page")
    sources = tab.sent("/v1/query")[0]
    assert sources["query"] == WIDGET_QUESTION and sources["history"] == []
    items = answer.locator(".bb-sources li")
    first = items.first.locator("a")
    expect(first).to_contain_text(" › ")
    expect(page.locator("[data-book-host]")).to_have_text(f"Sources link to {site.url.split('//')[1]}")
    page.screenshot(path=artifacts / "chat-page-desktop.png")
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "chat-page-phone.png")


def test_a_citation_leads_to_its_section_of_the_book(tab, service, site, fake_openai):
    page = open_chat(tab, service, site)
    answer = ask(page, WIDGET_QUESTION)
    citation = answer.locator("a.bb-cite").first
    expect(citation).to_have_text("[1]")
    source_link = answer.locator(".bb-sources li").first.locator("a")
    href = source_link.get_attribute("href")
    assert href.startswith(site.url + "/docs/") and "#" in href
    expect(citation).to_have_attribute("href", href)
    expect(citation).to_have_attribute("target", "_blank")

    with page.expect_popup() as popup:
        citation.click()
    popup.value.wait_for_load_state("commit")
    assert popup.value.url == href


def test_a_rating_is_retried_until_stored_and_stored_once(tab, service, fake_openai, artifacts):
    page = open_chat(tab, service)
    answer = ask(page, WIDGET_QUESTION)
    answer_id = answer.get_attribute("data-answer-id")
    attempts = []

    def lose_the_first_reply(route: Route) -> None:
        attempts.append(route.request.post_data_json)
        if len(attempts) == 1:
            route.fetch()  # the service stores it, but the reply is lost on the way back
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"error": {"code": "unavailable", "message": "try again"}, "request_id": "x"}),
            )
        else:
            route.continue_()

    page.route("**/v1/feedback", lose_the_first_reply)
    answer.get_by_role("button", name="Not helpful").click()
    answer.locator(".bb-reason").select_option("incomplete")
    answer.locator(".bb-comment").fill("It skips the ALLOWED_ORIGINS step.")
    answer.get_by_role("button", name="Send").click()

    expect(answer.locator(".bb-rate-status")).to_contain_text("Not saved yet; trying again")
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "chat-page-rating-phone.png")
    expect(answer.locator(".bb-rate-status")).to_have_text("Saved. Thank you!")
    assert len(attempts) == 2
    first, second = attempts
    assert first == second, "a retry must send the same rating with the same feedback_id"
    stored = [item for item in feedback_stored(service) if item["feedback_id"] == first["feedback_id"]]
    assert len(stored) == 1
    (item,) = stored
    assert item["rating"] == -1 and item["reason"] == "incomplete"
    assert item["comment"] == "It skips the ALLOWED_ORIGINS step."
    assert item["answer_id"] == answer_id and answer_id.startswith("ans_")
    assert item["query"] == WIDGET_QUESTION
    assert item["answer"] == fake_openai.reply
    assert item["sources"] and item["sources"][0]["url"].startswith("/docs/")
    assert item["session_id"].startswith("web-")


def test_sends_the_conversation_as_history_within_the_contract_limits(tab, service, fake_openai):
    page = open_chat(tab, service)
    fake_openai.reply = "Short answer [1]."
    ask(page, "How do I add the widget to Docusaurus?")
    ask(page, "And how do readers rate its answers?")
    assert tab.sent("/v1/query")[1]["history"] == [
        {"role": "user", "content": "How do I add the widget to Docusaurus?"},
        {"role": "assistant", "content": "Short answer [1]."},
    ]
    # Eleven more turns of short answers: only the latest 20 turns go.
    for n in range(10):
        ask(page, f"Question {n} about the widget?")
    history = tab.sent("/v1/query")[-1]["history"]
    assert len(history) == 20
    assert history[-2:] == [
        {"role": "user", "content": "Question 8 about the widget?"},
        {"role": "assistant", "content": "Short answer [1]."},
    ]
    # Long answers: the history shrinks to what fits in 16,000 characters.
    fake_openai.reply = "The widget is " + "explained-at-length-" * 300  # 6,014 characters in a few deltas
    for n in range(4):
        answer = ask(page, f"Long question {n} about the widget?")
        expect(answer).to_have_attribute("data-state", "done")
    history = tab.sent("/v1/query")[-1]["history"]
    assert sum(len(turn["content"]) for turn in history) <= 16_000
    assert history[-1] == {"role": "assistant", "content": fake_openai.reply}
    # Three long answers don't fit in 16,000 characters; the latest two and their questions do.
    assert [turn["role"] for turn in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["content"] == "Long question 1 about the widget?"


def test_says_plainly_when_the_book_has_no_answer(tab, service, fake_openai):
    fake_openai.reply = "NOT_IN_BOOK"
    page = open_chat(tab, service)
    answer = ask(page, WIDGET_QUESTION)
    expect(answer).to_have_class("bb-turn bb-bot bb-refusal")
    expect(answer.locator(".bb-note")).to_have_text("Not in the book")
    expect(answer.locator(".bb-answer")).to_contain_text("do not answer it")
    expect(answer.locator(".bb-sources")).to_be_hidden()


def _failing_with(status: int, headers: dict, code: str):
    def fulfil(route: Route) -> None:
        body = {"error": {"code": code, "message": "the vector database is down"}, "request_id": "req-7"}
        route.fulfill(status=status, headers={"Content-Type": "application/json", **headers}, body=json.dumps(body))

    return fulfil


@pytest.mark.parametrize(
    "failure, kind, message",
    [
        (_failing_with(429, {"Retry-After": "7"}, "rate_limited"), "rate_limited", "Please try again in 7 seconds."),
        (_failing_with(503, {"Retry-After": "30"}, "unavailable"), "unavailable",
         "unavailable right now (the vector database is down). Please try again in 30 seconds."),
        (lambda route: route.abort("internetdisconnected"), "network", "can't be reached. Check your connection"),
        (_failing_with(500, {}, "internal"), "server", "Something went wrong on the server (request req-7)."),
    ],
    ids=["rate-limited", "unavailable", "network-down", "server-bug"],
)
def test_says_what_went_wrong_when_no_answer_comes(tab, service, failure, kind, message):
    page = open_chat(tab, service)
    page.route("**/v1/query", failure)
    answer = ask(page, WIDGET_QUESTION)
    expect(answer).to_have_attribute("data-state", "error")
    expect(answer).to_have_attribute("data-problem", kind)
    expect(answer.locator(".bb-problem")).to_contain_text(message)
    expect(page.locator(".bb-input")).to_be_enabled()


def test_a_model_failing_mid_answer_keeps_what_came_and_says_it_was_cut(tab, service, fake_openai):
    fake_openai.reply = "The widget needs one script tag and an allowed origin, as the guide says [1]."
    fake_openai.cut_stream_after(4)
    page = open_chat(tab, service)
    answer = ask(page, WIDGET_QUESTION)
    expect(answer).to_have_attribute("data-state", "error")
    expect(answer.locator(".bb-answer")).to_contain_text("The widget needs")
    expect(answer.locator(".bb-problem")).to_contain_text("The answer was cut off.")
    # A cut answer is not history: the next question goes without it.
    fake_openai.reply = "Fine [1]."
    ask(page, "How do readers rate answers?")
    assert tab.sent("/v1/query")[-1]["history"] == []


def test_stop_ends_the_answer_and_the_call_to_the_model(tab, service, fake_openai):
    fake_openai.reply = " ".join(f"word{n}" for n in range(60))
    fake_openai.token_delay = 0.3
    page = open_chat(tab, service)
    page.locator(".bb-input").fill(WIDGET_QUESTION)
    page.locator(".bb-input").press("Enter")
    answer = page.locator(".bb-bot").last
    expect(answer.locator(".bb-answer")).to_contain_text("word1")
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(answer.locator(".bb-problem")).to_have_text("Stopped.")
    deadline = time.monotonic() + 10
    while fake_openai.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_openai.disconnects == 1, "stopping in the page must stop the model's stream too"
    expect(page.get_by_role("button", name="Ask")).to_be_visible()


def test_never_runs_markup_from_an_answer_or_a_source(tab, service, fake_openai):
    fake_openai.reply = (
        "Markup stays text: <img src=x onerror=\"window.__pwned='img'\"> and "
        "<script>window.__pwned='script'</script> [1]. A [bad link](javascript:window.__pwned='link') "
        "and <a href=\"javascript:window.__pwned='a'\">a raw anchor</a>, **<b>bold</b>**."
    )
    page = open_chat(tab, service)
    answer = ask(page, MARKUP_QUESTION)
    body = answer.locator(".bb-answer")
    expect(body).to_contain_text("<img src=x onerror=\"window.__pwned='img'\">")
    expect(body).to_contain_text("<script>window.__pwned='script'</script>")
    expect(body.locator("strong")).to_have_text("<b>bold</b>")
    assert body.locator("img, script, b, [onerror]").count() == 0
    expect(body.get_by_text("bad link")).not_to_have_attribute("href", "javascript:window.__pwned='link'")
    body.get_by_text("bad link").click()
    # The book's own passage about markup, with tags in its title, is among the sources as text.
    sources = answer.locator(".bb-sources")
    expect(sources).to_contain_text('Markup <img src=x onerror="window.__pwned=1"> in <script>window.__pwned=2</script> titles')
    expect(sources).to_contain_text("<script>window.__pwned=4</script>")
    # The model down: the quoted answer is the passage itself, markup and all, as text.
    fake_openai.fail_next(500, times=5, path="chat/completions")
    quoted = ask(page, MARKUP_QUESTION)
    expect(quoted.locator(".bb-note")).to_have_text("Quoted from the book (no language model answered)")
    expect(quoted.locator(".bb-answer")).to_contain_text("window.__pwned")
    assert page.locator(".bb-chat img, .bb-chat script, [href^='javascript' i]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not [r.url for r in tab.requests if r.url.split("?")[0].endswith("/x")], "an <img src=x> was loaded"


def test_no_secret_reaches_the_browser(tab, service, fake_openai):
    secrets = [ADMIN_KEY.encode(), service.env["OPENAI_API_KEY"].encode()]
    seen, leaked = [], []

    def inspect(route: Route) -> None:
        response = route.fetch()
        body = response.body()
        seen.append(route.request.url)
        if any(secret in body or secret in str(response.headers).encode() for secret in secrets):
            leaked.append(route.request.url)
        route.fulfill(response=response, body=body)

    tab.page.route("**/*", inspect)
    page = open_chat(tab, service)
    answer = ask(page, WIDGET_QUESTION)
    answer.get_by_role("button", name="Helpful", exact=True).click()
    answer.get_by_role("button", name="Send").click()
    expect(answer.locator(".bb-rate-status")).to_have_text("Saved. Thank you!")
    assert len(seen) >= 5 and not leaked, (seen, leaked)


def test_the_conversation_survives_a_reload_of_the_tab_until_a_new_one_begins(tab, service, fake_openai):
    fake_openai.reply = "One script tag [1]."
    page = open_chat(tab, service)
    ask(page, WIDGET_QUESTION)
    ask(page, "And how do readers rate its answers?")
    page.reload()
    expect(page.locator(".bb-user")).to_have_count(2)
    expect(page.locator(".bb-bot .bb-answer").last).to_have_text("One script tag [1].")
    ask(page, "Which origins must be allowed?")
    first, _, third = tab.sent("/v1/query")
    assert len(third["history"]) == 4 and third["session_id"] == first["session_id"]

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".bb-user")).to_have_count(0)
    expect(page.locator(".bb-input")).to_be_focused()
    page.reload()
    expect(page.locator(".bb-user")).to_have_count(0)
    ask(page, WIDGET_QUESTION)
    fourth = tab.sent("/v1/query")[-1]
    assert fourth["history"] == [] and fourth["session_id"] != first["session_id"]
