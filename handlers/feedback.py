"""POST /v1/feedback: a reader's rating of one answer, stored exactly once."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

from attrs import field, frozen

from lib.access import KeyedRequest, require_bearer
from lib.clients import Clients
from lib.errors import InvalidRequest
from lib.hosts.messages import Incoming, Reply
from lib.storage.records import FeedbackRecord
from lib.storage.store import decode_cursor
from lib.validation import CLEAN_STRING_PATTERN, build, clean, integer, one_of, strip, text

REASONS = ("wrong", "incomplete", "irrelevant", "unclear", "other")
MAX_SOURCES = 20
MAX_SOURCES_BYTES = 20_000
MAX_SOURCE_FIELDS = 20
_ID = r"[A-Za-z0-9_.:-]+"
_SOURCE_FIELD_NAME = r"[A-Za-z0-9_.-]{1,64}"
_SCALARS = (str, int, float, bool, type(None))


def _uuid(value) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (AttributeError, TypeError, ValueError):
        raise InvalidRequest(
            "feedback_id must be a UUID such as 0b5e3c1e-7d6a-4a0f-9d53-2f3c1b2a4e5d", field="feedback_id"
        ) from None


def _sources(value) -> tuple:
    """The sources as the reader saw them: flat objects of text, numbers, booleans and nulls, checked to the last
    string before anything is stored, for every reader of them later has to write them out again."""
    if value == ():
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidRequest("sources must be a list of objects", field="sources")
    if len(value) > MAX_SOURCES:
        raise InvalidRequest(f"sources must have at most {MAX_SOURCES} entries", field="sources")
    for source in value:
        _check_source(source)
    if len(json.dumps(value)) > MAX_SOURCES_BYTES:
        raise InvalidRequest(f"sources must be at most {MAX_SOURCES_BYTES:,} bytes as JSON", field="sources")
    return tuple(value)


def _check_source(source: dict) -> None:
    if len(source) > MAX_SOURCE_FIELDS:
        raise InvalidRequest(f"each source must have at most {MAX_SOURCE_FIELDS} fields", field="sources")
    for name, item in source.items():
        if not re.fullmatch(_SOURCE_FIELD_NAME, name):
            raise InvalidRequest("a source's field names must be 1 to 64 of A-Z, a-z, 0-9, _ . -", field="sources")
        if not isinstance(item, _SCALARS):
            raise InvalidRequest("a source's values must be text, numbers, true, false or null", field="sources")
        if isinstance(item, str) and not clean(item):
            raise InvalidRequest("a source's text must not contain control characters or lone surrogates", field="sources")


@frozen
class FeedbackRequest:
    answer_id: str = field(converter=strip, validator=text(min_length=1, max_length=128, pattern=_ID))
    rating: int = field(validator=one_of((1, -1)))
    feedback_id: str | None = field(
        default=None, converter=_uuid, metadata={"schema": {"type": ["string", "null"], "format": "uuid"}, "doc": "makes a retry idempotent"}
    )
    reason: str | None = field(default=None, validator=one_of(REASONS, optional=True))
    comment: str | None = field(default=None, converter=strip, validator=text(max_length=1000, optional=True))
    query: str | None = field(default=None, validator=text(max_length=2000, optional=True))
    answer: str | None = field(default=None, validator=text(max_length=20_000, optional=True))
    sources: tuple = field(
        default=(),
        converter=_sources,
        metadata={
            "schema": {
                "type": ["array", "null"],
                "maxItems": MAX_SOURCES,
                "items": {
                    "type": "object",
                    "maxProperties": MAX_SOURCE_FIELDS,
                    "propertyNames": {"pattern": f"^{_SOURCE_FIELD_NAME}$"},
                    "additionalProperties": {"type": ["string", "number", "boolean", "null"], "pattern": CLEAN_STRING_PATTERN},
                },
            },
            "doc": f"the sources as the reader saw them; at most {MAX_SOURCES_BYTES:,} bytes as JSON",
        },
    )
    selected_text: str | None = field(default=None, validator=text(max_length=8000, optional=True))
    session_id: str | None = field(default=None, validator=text(min_length=1, max_length=128, pattern=_ID, optional=True))

    FIELDS = ("feedback_id", "answer_id", "rating", "reason", "comment", "query", "answer", "sources", "selected_text", "session_id")
    REQUIRED = ("answer_id", "rating")

    @classmethod
    def from_json(cls, data: dict) -> "FeedbackRequest":
        return build(cls, data, allowed=cls.FIELDS, required=cls.REQUIRED)


def parse(incoming: Incoming) -> FeedbackRequest:
    return FeedbackRequest.from_json(incoming.json())


async def handle(request: FeedbackRequest, clients: Clients) -> Reply:
    """201 when stored now, 200 with the same id when this feedback_id was stored before."""
    record = FeedbackRecord(
        feedback_id=request.feedback_id or str(uuid.uuid4()),
        answer_id=request.answer_id,
        rating=request.rating,
        reason=request.reason,
        comment=request.comment or None,
        query=request.query,
        answer=request.answer,
        sources=list(request.sources),
        selected_text=request.selected_text,
        session_id=request.session_id,
        created_at=datetime.now(timezone.utc),
    )
    result = await clients.store.record_feedback(record)
    return Reply(body={"id": result.id, "status": "recorded"}, status=201 if result.created else 200)


# GET /v1/feedback: the book's author reads what readers said, behind ADMIN_API_KEY.

VIEWS = ("list", "summary")
_DATE_TIME = {"type": "string", "format": "date-time"}


def _time(value, name: str) -> datetime | None:
    """An ISO 8601 time, in UTC (one without a zone is taken as UTC), within the calendar Python and the databases share."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{name} must be an ISO 8601 date or time, such as 2026-11-24T09:00:00Z", field=name) from None
    try:
        return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in the year 10000 in UTC
        raise InvalidRequest(f"{name} must be a time between the years 1 and 9999 in UTC", field=name) from None


def _number(value) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value  # the validator names the field


def _cursor(instance, attribute, value) -> None:
    """A page's next_before, checked here so that a forged one is a 400 even while the database is down."""
    if value is not None:
        decode_cursor(value)


@frozen
class FeedbackQuery:
    view: str = field(default="list", validator=one_of(VIEWS))
    rating: int | None = field(default=None, converter=_number, validator=one_of((1, -1), optional=True))
    reason: str | None = field(default=None, validator=one_of(REASONS, optional=True))
    since: datetime | None = field(
        default=None, converter=lambda value: _time(value, "since"), metadata={"schema": _DATE_TIME, "doc": "inclusive, ISO 8601"}
    )
    until: datetime | None = field(
        default=None, converter=lambda value: _time(value, "until"), metadata={"schema": _DATE_TIME, "doc": "exclusive, ISO 8601"}
    )
    limit: int = field(default=50, converter=_number, validator=integer(low=1, high=200))
    before: str | None = field(
        default=None,
        validator=[text(max_length=200, optional=True), _cursor],
        metadata={"schema": {"type": ["string", "null"], "maxLength": 200, "pattern": CLEAN_STRING_PATTERN}, "doc": "opaque: a page's next_before, as this API gave it"},
    )

    FIELDS = ("view", "rating", "reason", "since", "until", "limit", "before")

    @classmethod
    def from_params(cls, params: dict) -> "FeedbackQuery":
        return build(cls, params, allowed=cls.FIELDS)


def parse_admin(incoming: Incoming) -> KeyedRequest:
    return KeyedRequest.of(incoming)


async def handle_admin(request: KeyedRequest, clients: Clients) -> Reply:
    require_bearer(request.token, clients.config.admin_api_key, "GET /v1/feedback", variable="ADMIN_API_KEY")
    query = FeedbackQuery.from_params(request.params)
    if query.view == "summary":
        return Reply(body=await clients.store.summary(since=query.since, until=query.until))
    page = await clients.store.list_feedback(
        rating=query.rating, reason=query.reason, since=query.since, until=query.until, limit=query.limit, before=query.before
    )
    return Reply(body=page.to_dict(), headers={"Cache-Control": "no-store"})
