"""Every validation rule of the contract: a 400 naming the field, from the request values alone."""

import json

import pytest

from handlers.feedback import FeedbackRequest
from handlers.query import QueryRequest
from lib.errors import InvalidJson, InvalidRequest, UnsupportedMediaType
from lib.hosts.messages import Incoming

GOOD_FEEDBACK = {"answer_id": "ans_1", "rating": 1}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "query"),
        ({"query": None}, "query"),
        ({"query": ""}, "query"),
        ({"query": "   \n\t "}, "query"),
        ({"query": 42}, "query"),
        ({"query": ["a"]}, "query"),
        ({"query": "x" * 2001}, "query"),
        ({"query": "nul \x00 inside"}, "query"),
        ({"query": "bell \x07"}, "query"),
        ({"query": "ok", "top_k": 0}, "top_k"),
        ({"query": "ok", "top_k": 21}, "top_k"),
        ({"query": "ok", "top_k": "5"}, "top_k"),
        ({"query": "ok", "top_k": 5.0}, "top_k"),
        ({"query": "ok", "top_k": True}, "top_k"),
        ({"query": "ok", "top_k": 10**30}, "top_k"),
        ({"query": "ok", "selected_text": "x" * 8001}, "selected_text"),
        ({"query": "ok", "selected_text": 3}, "selected_text"),
        ({"query": "ok", "history": "user: hi"}, "history"),
        ({"query": "ok", "history": [{"role": "system", "content": "hi"}]}, "history"),
        ({"query": "ok", "history": [{"role": "user"}]}, "history"),
        ({"query": "ok", "history": [{"role": "user", "content": ""}]}, "history"),
        ({"query": "ok", "history": [{"role": "user", "content": "a", "extra": 1}]}, "history"),
        ({"query": "ok", "history": [{"role": "user", "content": "hi"}] * 21}, "history"),
        ({"query": "ok", "history": [{"role": "user", "content": "x" * 8000}] * 3}, "history"),
        ({"query": "ok", "session_id": "has space"}, "session_id"),
        ({"query": "ok", "session_id": "x" * 129}, "session_id"),
        ({"query": "ok", "session_id": ""}, "session_id"),
        ({"query": "ok", "stream": "yes"}, "stream"),
        ({"query": "ok", "stream": 1}, "stream"),
        ({"query": "ok", "unexpected": 1}, "unexpected"),
        ({"query": "ok", "request_id": "mine"}, "request_id"),
    ],
)
def test_rejects_a_bad_query_naming_the_field(body, field):
    with pytest.raises(InvalidRequest) as caught:
        QueryRequest.from_json(body)
    assert caught.value.field == field
    assert caught.value.STATUS == 400
    assert field.split("[")[0] in caught.value.message or "unknown field" in caught.value.message


def test_strips_the_query_and_keeps_the_defaults():
    request = QueryRequest.from_json({"query": "  what is a chunk?  ", "top_k": None}, request_id="r1")
    assert request.query == "what is a chunk?"
    assert request.top_k is None and request.history == () and request.stream is False
    assert request.request_id == "r1"


def test_takes_history_turns_as_values():
    request = QueryRequest.from_json(
        {"query": "and how?", "history": [{"role": "user", "content": "what is it"}, {"role": "assistant", "content": "a bot"}]}
    )
    assert [turn.role for turn in request.history] == ["user", "assistant"]


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"answer_id": None}, "answer_id"),
        ({"answer_id": ""}, "answer_id"),
        ({"answer_id": "bad id"}, "answer_id"),
        ({"rating": None}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": 2}, "rating"),
        ({"rating": "1"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 1.0}, "rating"),
        ({"feedback_id": "not-a-uuid"}, "feedback_id"),
        ({"feedback_id": 12}, "feedback_id"),
        ({"reason": "rude"}, "reason"),
        ({"comment": "x" * 1001}, "comment"),
        ({"comment": "\x1b[31m"}, "comment"),
        ({"sources": "none"}, "sources"),
        ({"sources": [1, 2]}, "sources"),
        ({"sources": [{}] * 21}, "sources"),
        ({"sources": [{"title": "\ud800"}]}, "sources"),
        ({"sources": [{"title": "ok"}, {"section": "bell\x07"}]}, "sources"),
        ({"sources": [{"nested": {"title": "\udfff"}}]}, "sources"),
        ({"sources": [{"nested": [[[[[]]]]]}]}, "sources"),
        ({"sources": [{"list": ["a", "b"]}]}, "sources"),
        ({"sources": [{"": "a name that is empty"}]}, "sources"),
        ({"sources": [{"a name with spaces": 1}]}, "sources"),
        ({"sources": [{f"field_{n}": n for n in range(21)}]}, "sources"),
        ({"sources": [{"snippet": "s" * 10_000}] * 3}, "sources"),
        ({"session_id": "a/b"}, "session_id"),
        ({"query": "x" * 2001}, "query"),
        ({"selected_text": "x" * 8001}, "selected_text"),
        ({"score": 5}, "score"),
    ],
)
def test_rejects_bad_feedback_naming_the_field(extra, field):
    with pytest.raises(InvalidRequest) as caught:
        FeedbackRequest.from_json({**GOOD_FEEDBACK, **extra})
    assert caught.value.field == field


def test_takes_the_sources_as_the_widget_sends_them():
    sources = [{"n": 1, "title": "Nodes", "section": "Topics", "url": "/docs/a#b", "score": 0.83, "chunk_id": "c1", "book": None}]
    assert FeedbackRequest.from_json({**GOOD_FEEDBACK, "sources": sources}).sources == tuple(sources)


def test_normalises_the_feedback_id():
    request = FeedbackRequest.from_json({**GOOD_FEEDBACK, "feedback_id": "0B5E3C1E7D6A4A0F9D532F3C1B2A4E5D"})
    assert request.feedback_id == "0b5e3c1e-7d6a-4a0f-9d53-2f3c1b2a4e5d"


def _incoming(body: bytes, content_type: str | None = "application/json") -> Incoming:
    headers = {"content-type": content_type} if content_type else {}
    return Incoming(method="POST", path="/v1/query", request_id="r", headers=headers, body=body)


@pytest.mark.parametrize(
    "body, error",
    [
        (b"", InvalidJson),
        (b"{", InvalidJson),
        (b"[]", InvalidJson),
        (b'"query"', InvalidJson),
        (b"null", InvalidJson),
        (b'{"query": NaN}', InvalidJson),
        (b'{"query": "a", "query": "b"}', InvalidJson),
        (b'{"query": "\xff\xfe"}', InvalidJson),
        (b"[" * 100_000 + b"]" * 100_000, InvalidJson),
        (b'{"history": ' + b"[" * 33 + b"]" * 33 + b"}", InvalidJson),
    ],
)
def test_refuses_a_body_that_is_not_a_json_object(body, error):
    with pytest.raises(error):
        _incoming(body).json()


def test_takes_json_nested_32_deep():
    assert _incoming(b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}").json() == {"a": json.loads("[" * 31 + "]" * 31)}


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "+json", "/json", "text/x+json", "application/+json"],
)
def test_refuses_a_body_that_is_not_sent_as_json(content_type):
    with pytest.raises(UnsupportedMediaType):
        _incoming(b'{"query": "a"}', content_type).json()


def test_takes_json_with_a_charset():
    assert _incoming(b'{"query": "a"}', "application/json; charset=utf-8").json() == {"query": "a"}


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/vnd.api+json; charset=utf-8", 'application/json; note="a, b"'])
def test_takes_json_by_a_structured_suffix_or_with_a_comma_in_a_quoted_parameter(content_type):
    assert _incoming(b'{"query": "a"}', content_type).json() == {"query": "a"}


def test_refuses_two_content_types_as_a_bad_request():
    with pytest.raises(InvalidRequest) as caught:
        _incoming(b'{"query": "a"}', "application/json, application/json").json()
    assert caught.value.STATUS == 400 and "Content-Type" in caught.value.message
