"""The values the store keeps: an answer as it was logged, a reader's rating of it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from numbers import Real

from attrs import field, frozen

from lib.untrusted_json import MAX_DEPTH, nested_deeper_than, stored


def _now() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | str | None) -> str | None:
    """A timestamp from either driver as ISO 8601 in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).isoformat()


def stored_sources(text: str | None) -> list[dict]:
    """A feedback row's snapshot of the sources, as whatever version stored it: the objects of a JSON list."""
    value = stored(text, [])
    return [source for source in value if isinstance(source, dict)] if isinstance(value, list) else []


def stored_retrieved(text: str | None) -> list[tuple[str, float]]:
    """An answer row's retrieved chunks as (chunk id, score) pairs; whatever is not one is left out."""
    value = stored(text, [])
    pairs = value if isinstance(value, list) else []
    return [
        (pair[0], float(pair[1]))
        for pair in pairs
        if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and _score(pair[1])
    ]


def stored_cited(text: str | None) -> list[str]:
    """An answer row's cited chunk ids; whatever is not one is left out."""
    value = stored(text, [])
    return [chunk_id for chunk_id in value if isinstance(chunk_id, str)] if isinstance(value, list) else []


def _score(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _aware(instance, attribute, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be a datetime with a time zone, got {value!r}")


def _storable(instance, attribute, value: str | None) -> None:
    """Both databases store any Unicode text except NUL and unpaired surrogates."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ValueError(f"{attribute.name} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{attribute.name} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{attribute.name} must not contain unpaired surrogates") from None


def _storable_sources(instance, attribute, value: tuple) -> None:
    """Objects that any reader can read back and write out again: valid text, nested at most MAX_DEPTH deep."""
    if not all(isinstance(source, dict) for source in value):
        raise ValueError("sources must be objects")
    try:
        text = json.dumps(list(value), ensure_ascii=False)
        text.encode("utf-8")
    except (RecursionError, TypeError, ValueError):
        raise ValueError("sources must be JSON of valid text") from None
    if nested_deeper_than(text, MAX_DEPTH):
        raise ValueError(f"sources must not nest more than {MAX_DEPTH} deep")


def _required(instance, attribute, value: str) -> None:
    _storable(instance, attribute, value)
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


def _uuid(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"feedback_id must be a UUID, got {value!r}") from None


def _rating(instance, attribute, value: int) -> None:
    if isinstance(value, bool) or value not in (1, -1):
        raise ValueError(f"rating must be 1 or -1, got {value!r}")


def _scored(value) -> tuple[tuple[str, float], ...]:
    return tuple((str(chunk_id), float(score)) for chunk_id, score in value)


def _chunk_ids(value) -> tuple[str, ...]:
    return tuple(str(chunk_id) for chunk_id in value)


@frozen(kw_only=True)
class AnswerRecord:
    """One answer as the query handler produced it, for the answer log."""

    id: str = field(validator=_required)
    created_at: datetime = field(factory=_now, validator=_aware)
    query: str | None = field(default=None, validator=_storable)
    mode: str = field(validator=_required)
    answerable: bool = field(converter=bool)
    refusal_reason: str | None = field(default=None, validator=_storable)
    retrieved: tuple[tuple[str, float], ...] = field(default=(), converter=_scored)
    cited: tuple[str, ...] = field(default=(), converter=_chunk_ids)
    model: str | None = field(default=None, validator=_storable)
    prompt_tokens: int = field(default=0, converter=int)
    completion_tokens: int = field(default=0, converter=int)
    latency_ms: float = field(default=0.0, converter=float)
    collection: str = field(validator=_required)
    index_version: str | None = field(default=None, validator=_storable)
    session_id: str | None = field(default=None, validator=_storable)


@frozen(kw_only=True)
class FeedbackRecord:
    """A reader's rating of one answer, with the snapshot of what they saw."""

    feedback_id: str = field(factory=lambda: str(uuid.uuid4()), converter=_uuid)
    answer_id: str = field(validator=_required)
    rating: int = field(validator=_rating)
    reason: str | None = field(default=None, validator=_storable)
    comment: str | None = field(default=None, validator=_storable)
    query: str | None = field(default=None, validator=_storable)
    answer: str | None = field(default=None, validator=_storable)
    sources: tuple[dict, ...] = field(default=(), converter=tuple, validator=_storable_sources)
    selected_text: str | None = field(default=None, validator=_storable)
    session_id: str | None = field(default=None, validator=_storable)
    created_at: datetime = field(factory=_now, validator=_aware)


@frozen
class FeedbackResult:
    """What record_feedback did: `created` is False when the feedback_id was already stored."""

    id: str
    created: bool
    answer_known: bool


@frozen
class FeedbackPage:
    """One page of list_feedback, newest first; pass `next_before` as `before` for the next."""

    items: tuple[dict, ...]
    next_before: str | None

    def to_dict(self) -> dict:
        return {"items": list(self.items), "next_before": self.next_before}
