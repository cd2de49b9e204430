"""POST /v1/query with stream: true, over real HTTP: the service as a process, the loopback OpenAI behind it."""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager

import httpx
import pytest

from tests.service import Service

QUESTION = "How do I add the widget to Docusaurus?"
LONG_REPLY = " ".join(f"word{n}" for n in range(40)) + " [1]."


@pytest.fixture(scope="module")
def service(tmp_path_factory, dense_index, openai_server):
    """One service for the module, over a private copy of the indexed book; each test resets the fake."""
    data_dir = tmp_path_factory.mktemp("stream") / "data"
    shutil.copytree(dense_index.data_dir, data_dir)
    log = data_dir.parent / "service.log"
    with Service({"DATA_DIR": str(data_dir), "OPENAI_BASE_URL": openai_server.base_url}, log_path=log) as running:
        yield running


@contextmanager
def streamed(service, body: dict, *, timeout: float = 20.0):
    with httpx.Client(timeout=timeout) as client:
        with client.stream("POST", service.url + "/v1/query", json={**body, "stream": True}) as response:
            yield response


def events_of(response):
    """(event, data) pairs as the server-sent events arrive."""
    event, data = None, []
    for line in response.iter_lines():
        if line == "":
            if event is not None or data:
                yield event or "message", json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].lstrip(" "))


def all_events(service, body: dict) -> list[tuple[str, object]]:
    with streamed(service, body) as response:
        assert response.status_code == 200
        return list(events_of(response))


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_answers_with_sources_then_deltas_then_done(service, fake_openai):
    events = all_events(service, {"query": QUESTION})

    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"} and len(names) > 3
    sources = events[0][1]
    assert sources and sources[0]["n"] == 1 and sources[0]["url"].startswith("/docs/")
    assert "".join(data["text"] for name, data in events if name == "delta") == fake_openai.reply
    done = events[-1][1]
    assert done["answerable"] is True and done["mode"] == "rag" and done["id"].startswith("ans_")
    assert "answer" not in done and "sources" not in done


def test_sets_headers_that_keep_proxies_from_buffering(service, fake_openai):
    with streamed(service, {"query": QUESTION}) as response:
        response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"


def test_sends_the_sources_before_the_model_writes_its_first_token(service, fake_openai):
    latency = 2.0  # the model says nothing for this long
    fake_openai.latency = {"chat/completions": latency}
    started = time.perf_counter()
    arrivals = []
    with streamed(service, {"query": QUESTION}) as response:
        for name, _ in events_of(response):
            arrivals.append((name, time.perf_counter() - started))
    print("arrivals:", ", ".join(f"{name} {at:.3f} s" for name, at in arrivals[:3]), f"(model silent for {latency} s)")
    assert [name for name, _ in arrivals[:2]] == ["sources", "delta"]
    sources_at, first_token_at = arrivals[0][1], arrivals[1][1]
    # Ordering is the feature: the sources can't have waited for a model that had not spoken yet.
    assert sources_at < latency <= first_token_at


def test_a_reader_who_leaves_cancels_the_call_to_the_model(service, fake_openai):
    fake_openai.reply = LONG_REPLY
    fake_openai.token_delay = 0.5
    with streamed(service, {"query": QUESTION}) as response:
        events = events_of(response)
        assert next(events)[0] == "sources"
        assert next(events)[0] == "delta"
        assert fake_openai.disconnects == 0
    # The client is closed: the service must stop reading from the model, which then sees it leave.
    started = time.perf_counter()
    assert wait_for(lambda: fake_openai.disconnects >= 1), "the model's stream was not cancelled"
    print(f"upstream cancelled {time.perf_counter() - started:.3f} s after the client left")


def test_a_model_failing_mid_answer_ends_the_stream_with_an_error_event(service, fake_openai):
    fake_openai.reply = LONG_REPLY
    fake_openai.cut_stream_after(3)

    events = all_events(service, {"query": QUESTION})

    names = [name for name, _ in events]
    assert names[0] == "sources" and "delta" in names
    assert names[-1] == "error" and "done" not in names
    error = events[-1][1]
    assert error["error"]["code"] == "unavailable" and error["request_id"]


def test_a_model_down_before_its_first_token_gives_the_quoted_answer_in_one_delta(service, fake_openai):
    fake_openai.fail_next(500, times=5, path="chat/completions")

    events = all_events(service, {"query": QUESTION})

    names = [name for name, _ in events]
    assert names == ["sources", "delta", "done"]
    assert events[1][1]["text"].strip()
    assert events[2][1]["mode"] == "extractive" and events[2][1]["answerable"] is True


@pytest.mark.parametrize(
    "reply", ["NOT_IN_BOOK", "NOT_IN_BOOK: the book covers Spaces, not Kubernetes.", "**NOT_IN_BOOK** - it never mentions Helm"]
)
def test_a_refusal_comes_as_one_delta_and_a_done_that_says_unanswerable(service, fake_openai, reply):
    fake_openai.reply = reply

    events = all_events(service, {"query": QUESTION})

    names = [name for name, _ in events]
    assert names == ["sources", "delta", "done"]
    assert "NOT_IN_BOOK" not in events[1][1]["text"] and "Kubernetes" not in events[1][1]["text"]
    done = events[2][1]
    assert done["answerable"] is False and done["refusal_reason"] == "out_of_scope"


def test_a_bad_request_is_refused_before_any_stream_starts(service, fake_openai):
    with streamed(service, {"query": "   "}) as response:
        body = json.loads(response.read())
    assert response.status_code == 400
    assert body["error"]["field"] == "query"


def test_a_reader_who_leaves_before_the_first_token_cancels_the_call_to_the_model(service, fake_openai):
    latency = 3.0
    fake_openai.latency = {"chat/completions": latency}
    with streamed(service, {"query": QUESTION}) as response:
        assert next(events_of(response))[0] == "sources"
    # The fake counts a disconnect only while it is still silent, so a count proves the call was cut short.
    assert wait_for(lambda: fake_openai.disconnects >= 1, timeout=latency + 1), "the pending call ran on"
