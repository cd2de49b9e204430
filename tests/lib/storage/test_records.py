"""The records: what the store accepts, and the errors that name the field."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from lib.storage import AnswerRecord, FeedbackRecord
from tests.lib.storage.conftest import answer, feedback


def test_feedback_ids_are_uuids_in_canonical_form():
    record = feedback(feedback_id="6F9619FF-8B86-D011-B42D-00C04FC964FF")

    assert record.feedback_id == "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def test_a_feedback_id_is_made_when_none_is_given():
    assert feedback().feedback_id != feedback().feedback_id


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"feedback_id": "not-a-uuid"}, "feedback_id"),
        ({"rating": 0}, "rating"),
        ({"rating": True}, "rating"),
        ({"comment": "a\x00b"}, "comment"),
        ({"query": "\ud800"}, "query"),
        ({"answer_id": ""}, "answer_id"),
        ({"sources": ["not an object"]}, "sources"),
        ({"sources": [{"title": "\ud800"}]}, "sources"),
        ({"sources": [{"deep": json.loads("[" * 40 + "]" * 40)}]}, "sources"),
        ({"sources": [{"when": datetime(2025, 3, 1)}]}, "sources"),
    ],
)
def test_feedback_rejects_what_it_cannot_store(fields, message):
    values = {"answer_id": "ans_1", "rating": -1, **fields}

    with pytest.raises(ValueError, match=message):
        FeedbackRecord(**values)


def test_times_need_a_time_zone():
    with pytest.raises(ValueError, match="created_at"):
        answer(at=datetime(2025, 3, 1))


def test_an_answer_keeps_scores_and_citations_as_tuples():
    record = answer(retrieved=[["c1", "0.5"]], cited=["c1"])

    assert record.retrieved == (("c1", 0.5),)
    assert record.cited == ("c1",)


def test_an_answer_needs_its_collection_and_mode():
    with pytest.raises(TypeError):
        AnswerRecord(id="a", answerable=True)
