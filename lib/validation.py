"""attrs validators and converters that fail with an InvalidRequest naming the field."""

from __future__ import annotations

import re
from typing import Any, Iterable

import attrs

from lib.errors import InvalidRequest

# C0 controls other than tab, newline and carriage return, DEL, and lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def strip(value: Any) -> Any:
    """Converter: strip strings, leave anything else for the validator to refuse."""
    return value.strip() if isinstance(value, str) else value


def text(*, max_length: int, min_length: int = 0, pattern: str | None = None, optional: bool = False):
    """Validator: a string of bounded length with no control characters."""
    compiled = re.compile(pattern) if pattern else None

    def check(instance, attribute: attrs.Attribute, value: Any) -> None:
        name = attribute.name
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string", field=name)
        if len(value) < min_length:
            raise InvalidRequest(
                f"{name} must not be empty" if min_length == 1 else f"{name} must have at least {min_length} characters",
                field=name,
            )
        if len(value) > max_length:
            raise InvalidRequest(f"{name} must have at most {max_length} characters, got {len(value)}", field=name)
        if _FORBIDDEN.search(value):
            raise InvalidRequest(f"{name} must not contain control characters", field=name)
        if compiled and not compiled.fullmatch(value):
            raise InvalidRequest(f"{name} has characters that are not allowed", field=name)

    return check


def integer(*, low: int, high: int, optional: bool = False):
    """Validator: a whole number in a range (true and false are not numbers here)."""

    def check(instance, attribute: attrs.Attribute, value: Any) -> None:
        name = attribute.name
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be a whole number", field=name)
        if not low <= value <= high:
            raise InvalidRequest(f"{name} must be from {low} to {high}, got {value}", field=name)

    return check


def one_of(choices: Iterable[Any], *, optional: bool = False):
    """Validator: one of a fixed set of values, compared by type as well."""
    allowed = tuple(choices)

    def check(instance, attribute: attrs.Attribute, value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not any(type(value) is type(c) and value == c for c in allowed):
            listed = ", ".join(repr(c) for c in allowed)
            raise InvalidRequest(f"{attribute.name} must be one of {listed}", field=attribute.name)

    return check


def boolean(instance, attribute: attrs.Attribute, value: Any) -> None:
    """Validator: true or false."""
    if not isinstance(value, bool):
        raise InvalidRequest(f"{attribute.name} must be true or false", field=attribute.name)


def build(cls: type, data: dict, *, allowed: Iterable[str], required: Iterable[str] = (), **extra: Any):
    """Make `cls` from a JSON object: unknown keys and missing required ones are errors.

    A null counts as absent, so an optional field's default applies. `extra`
    carries what the host knows and the client must not set (the request id).
    """
    allowed = set(allowed)
    for key in data:
        if key not in allowed:
            raise InvalidRequest(f"unknown field {key!r}", field=key)
    for key in required:
        if data.get(key) is None:
            raise InvalidRequest(f"{key} is required", field=key)
    return cls(**{key: value for key, value in data.items() if value is not None}, **extra)
