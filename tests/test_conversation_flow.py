"""A reader's conversation over real HTTP, as the widget holds it: every question sent with the turns before it.

Each conversation has four turns and changes topic twice, once into an
off-topic question; it runs without a model (sparse search, quoted answers)
and with the loopback model (which rewrites follow-ups as the test tells it).
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from lib.answer.generation import REWRITE_PROMPT
from tests.service import Service

DEPLOY = "How do I deploy Bookbot to a Hugging Face Space?"
SLEEP = "Does it go to sleep when nobody is using it?"
SLEEP_REWRITTEN = "Does a Hugging Face Space running Bookbot go to sleep when nobody is using it?"
FRANCE = "What is the capital of France?"
RETRY = "Separate question: which errors should my client retry?"


class Reader:
    """Asks as the widget does: the conversation so far goes along as history."""

    def __init__(self, http: httpx.Client):
        self.http = http
        self.history: list[dict] = []

    def ask(self, question: str) -> dict:
        body = self.alone(question, history=self.history)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": body["answer"]}]
        return body

    def alone(self, question: str, **fields) -> dict:
        response = self.http.post("/v1/query", json={"query": question, **fields})
        assert response.status_code == 200, response.text
        return response.json()


def urls(body: dict) -> list[str]:
    return [source["url"] for source in body["sources"]]


def outcome(body: dict) -> tuple:
    return body["answerable"], body["refusal_reason"], body["mode"], urls(body)


@pytest.fixture(scope="module")
def offline(tmp_path_factory, sparse_index):
    data = tmp_path_factory.mktemp("conversation-offline") / "data"
    shutil.copytree(sparse_index.data_dir, data)
    with Service({"DATA_DIR": str(data)}) as service, httpx.Client(base_url=service.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def with_model(tmp_path_factory, dense_index, openai_server):
    data = tmp_path_factory.mktemp("conversation-model") / "data"
    shutil.copytree(dense_index.data_dir, data)
    env = {"DATA_DIR": str(data), "OPENAI_BASE_URL": openai_server.base_url}
    with Service(env) as service, httpx.Client(base_url=service.url, timeout=30) as http:
        yield http


def test_without_a_model_each_turn_is_answered_from_its_own_topic(offline):
    reader = Reader(offline)

    deploy = reader.ask(DEPLOY)
    assert deploy["mode"] == "extractive" and "/deploy/hugging-face-space" in urls(deploy)[0]

    sleep = reader.ask(SLEEP)  # "it" is the Space of the turn before
    assert sleep["answerable"] and "/deploy/hugging-face-space#keep-the-space-awake" in urls(sleep)[0]

    france = reader.ask(FRANCE)  # off-topic after on-topic turns: refused, as on its own
    assert france["answerable"] is False and france["mode"] == "refusal" and france["sources"] == []
    assert outcome(france) == outcome(reader.alone(FRANCE))

    retry = reader.ask(RETRY)  # a new topic, announced
    assert urls(retry)[0].endswith("#which-errors-to-retry")
    assert outcome(retry) == outcome(reader.alone("which errors should my client retry?"))
    assert len({turn["content"] for turn in reader.history if turn["role"] == "assistant"}) == 4


def test_without_a_model_a_question_that_stands_alone_is_not_answered_with_the_previous_answer(offline):
    reader = Reader(offline)
    reader.ask("How many tokens does a chunk have by default?")
    reader.ask("Which port does the service listen on?")
    capital = reader.ask(FRANCE)
    assert capital["answerable"] is False and capital["refusal_reason"] in ("no_hits", "low_score")


def test_with_a_model_follow_ups_are_rewritten_and_new_topics_searched_as_asked(with_model, fake_openai):
    fake_openai.rewrite = lambda body: SLEEP_REWRITTEN if _question(body) == SLEEP else _question(body)
    fake_openai.reply = "It does, after 48 hours without a visit [1]."
    reader = Reader(with_model)

    deploy = reader.ask(DEPLOY)
    assert deploy["mode"] == "rag" and deploy["answerable"]
    assert [call["messages"][0]["content"] for call in fake_openai.calls("chat/completions")] != [REWRITE_PROMPT]

    searched = len(fake_openai.calls("embeddings"))
    sleep = reader.ask(SLEEP)
    rewrite, answer = fake_openai.calls("chat/completions")[-2:]
    assert rewrite["messages"][0]["content"] == REWRITE_PROMPT and DEPLOY in rewrite["messages"][1]["content"]
    assert [call["input"] for call in fake_openai.calls("embeddings")[searched:]] == [[SLEEP_REWRITTEN]]
    assert SLEEP_REWRITTEN in answer["messages"][1]["content"] and sleep["answerable"]

    # The model gives a question that stands alone back unchanged: it is searched and answered as if asked first.
    france = reader.ask(FRANCE)
    assert outcome(france) == outcome(reader.alone(FRANCE))
    retry = reader.ask(RETRY)
    assert outcome(retry) == outcome(reader.alone(RETRY))
    assert len(reader.history) == 8


def test_with_a_model_that_refuses_the_refusal_says_what_was_spent(with_model, fake_openai):
    fake_openai.reply = "NOT_IN_BOOK"
    body = Reader(with_model).alone(DEPLOY)
    assert body["answerable"] is False and body["mode"] == "refusal" and body["refusal_reason"] == "out_of_scope"
    assert body["model"] == "gpt-4o-mini" and body["usage"]["completion_tokens"] > 0


def _question(body: dict) -> str:
    user = body["messages"][-1]["content"]
    return user.split("<question>\n", 1)[1].split("\n</question>", 1)[0]
