"""The OpenAPI document says exactly what the validators accept, for the fields the server strips first."""

from __future__ import annotations

import re

import pytest

import router
from handlers.feedback import FeedbackRequest
from handlers.query import QueryRequest
from lib import openapi
from lib.errors import InvalidRequest

SCHEMAS = openapi.document(router.REQUESTS)["components"]["schemas"]
TRICKY = [
    "", " ", "x", " x ", "\tx\n", "a b", "\x0b", "\x0bx\x0c", "x\x0by", "\x1cx\x1f", "x\x00", "\x00", "x\x7f",
    "\u00a0x\u2003", "\u2028", "ü", "x" * 7, " " + "x" * 7 + " ", "\r\n", "line\nbreak", "\x85x\x85",
]


def accepted(build) -> bool:
    try:
        build()
        return True
    except InvalidRequest:
        return False


def fits(schema: dict, value: str) -> bool:
    if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
        return False
    return len(value) <= schema.get("maxLength", len(value)) and len(value) >= schema.get("minLength", 0)


@pytest.mark.parametrize("value", TRICKY + ["y" * 2000, " " + "y" * 2000 + " ", "y" * 2001])
def test_the_query_pattern_is_the_validator(value):
    schema = SCHEMAS["QueryRequest"]["properties"]["query"]
    assert fits(schema, value) == accepted(lambda: QueryRequest.from_json({"query": value}))


@pytest.mark.parametrize("value", TRICKY + ["y" * 8000, "\n" + "y" * 8000 + "\n", "y" * 8001])
def test_the_selected_text_pattern_is_the_validator(value):
    schema = SCHEMAS["QueryRequest"]["properties"]["selected_text"]
    assert fits(schema, value) == accepted(lambda: QueryRequest.from_json({"query": "q", "selected_text": value}))


@pytest.mark.parametrize("value", TRICKY)
def test_the_turn_pattern_is_the_validator(value):
    schema = SCHEMAS["Turn"]["properties"]["content"]
    assert fits(schema, value) == accepted(
        lambda: QueryRequest.from_json({"query": "q", "history": [{"role": "user", "content": value}]})
    )


@pytest.mark.parametrize("value", TRICKY + ["c" * 1000, " " + "c" * 1000, "c" * 1001])
def test_the_comment_pattern_is_the_validator(value):
    schema = SCHEMAS["FeedbackRequest"]["properties"]["comment"]
    assert fits(schema, value) == accepted(lambda: FeedbackRequest.from_json({"answer_id": "a", "rating": 1, "comment": value}))


@pytest.mark.parametrize("value", TRICKY + ["ans_1", " ans_1 ", "a" * 128, "a" * 129, "a:b.c-d_e", "a/b"])
def test_the_answer_id_pattern_is_the_validator(value):
    schema = SCHEMAS["FeedbackRequest"]["properties"]["answer_id"]
    assert fits(schema, value) == accepted(lambda: FeedbackRequest.from_json({"answer_id": value, "rating": 1}))


@pytest.mark.parametrize("value", TRICKY + ["q" * 2000, "q" * 2001])
def test_the_feedback_query_pattern_is_the_validator(value):
    schema = SCHEMAS["FeedbackRequest"]["properties"]["query"]
    assert fits(schema, value) == accepted(lambda: FeedbackRequest.from_json({"answer_id": "a", "rating": 1, "query": value}))


def test_every_limited_route_documents_429_and_the_rate_headers():
    paths = openapi.document(router.REQUESTS)["paths"]
    for path, method in (("/v1/query", "post"), ("/v1/feedback", "post"), ("/v1/feedback", "get")):
        responses = paths[path][method]["responses"]
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
        assert set(responses["429"]["headers"]) >= {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
        assert "503" in responses and "Retry-After" in responses["503"]["headers"]
    assert "504" in paths["/v1/query"]["post"]["responses"]
