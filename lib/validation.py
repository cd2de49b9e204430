"""attrs validators and converters that fail with an InvalidRequest naming the field, and the JSON Schema of
what each accepts, so that the OpenAPI document states the same limits as the code that enforces them."""

from __future__ import annotations

import re
from typing import Any, Iterable

import attrs
from attrs import frozen

from lib.errors import InvalidRequest

# C0 controls other than tab, newline and carriage return, DEL, and lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same as a JSON Schema pattern can say it: its regexes match code points, so lone surrogates can't be named.
_FORBIDDEN_IN_SCHEMA = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"


def strip(value: Any) -> Any:
    """Converter: strip strings, leave anything else for the validator to refuse."""
    return value.strip() if isinstance(value, str) else value


def _nullable(kind: str, optional: bool) -> str | list[str]:
    return [kind, "null"] if optional else kind


@frozen
class _Text:
    """Validator: a string of bounded length with no control characters (see `text`)."""

    max_length: int
    min_length: int
    pattern: str | None
    optional: bool

    def __call__(self, instance, attribute: attrs.Attribute, value: Any) -> None:
        name = attribute.name
        if value is None and self.optional:
            return
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string", field=name)
        if len(value) < self.min_length:
            message = f"{name} must not be empty" if self.min_length == 1 else f"{name} must have at least {self.min_length} characters"
            raise InvalidRequest(message, field=name)
        if len(value) > self.max_length:
            raise InvalidRequest(f"{name} must have at most {self.max_length} characters, got {len(value)}", field=name)
        if _FORBIDDEN.search(value):
            raise InvalidRequest(f"{name} must not contain control characters", field=name)
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise InvalidRequest(f"{name} has characters that are not allowed", field=name)

    def schema(self, stripped: bool) -> dict:
        kind = _nullable("string", self.optional)
        if self.pattern:
            # A pattern of allowed characters: with whitespace around it when the server strips it first.
            bounds = f"{{{max(self.min_length, 1)},{self.max_length}}}"
            inner = f"{self.pattern.removesuffix('+')}{bounds}" if self.pattern.endswith("+") else self.pattern
            if stripped:
                return {"type": kind, "pattern": rf"^\s*{inner}\s*$", "description": f"stripped; {self.min_length} to {self.max_length} characters"}
            return {"type": kind, "pattern": f"^{self.pattern}$", "minLength": self.min_length, "maxLength": self.max_length}
        if not stripped:
            schema = {"type": kind, "maxLength": self.max_length, "pattern": rf"^[^{_FORBIDDEN_IN_SCHEMA}]*$"}
            return {**schema, "minLength": self.min_length} if self.min_length else schema
        # Stripped, then checked: a pattern says it exactly, where minLength and maxLength would count the
        # whitespace around the text too.
        edge, inner = rf"[^\s{_FORBIDDEN_IN_SCHEMA}]", rf"[^{_FORBIDDEN_IN_SCHEMA}]"
        body = rf"{edge}(?:{inner}{{0,{self.max_length - 2}}}{edge})?"
        required = self.min_length >= 1
        return {
            "type": kind,
            "pattern": rf"^\s*{body}\s*$" if required else rf"^\s*(?:{body})?\s*$",
            "description": f"stripped, then {'1' if required else '0'} to {self.max_length} characters",
        }


def text(*, max_length: int, min_length: int = 0, pattern: str | None = None, optional: bool = False) -> _Text:
    """Validator: a string of bounded length with no control characters, matching `pattern` when given."""
    return _Text(max_length, min_length, pattern, optional)


@frozen
class _Integer:
    low: int
    high: int
    optional: bool

    def __call__(self, instance, attribute: attrs.Attribute, value: Any) -> None:
        name = attribute.name
        if value is None and self.optional:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be a whole number", field=name)
        if not self.low <= value <= self.high:
            raise InvalidRequest(f"{name} must be from {self.low} to {self.high}, got {value}", field=name)

    def schema(self, stripped: bool) -> dict:
        return {"type": _nullable("integer", self.optional), "minimum": self.low, "maximum": self.high}


def integer(*, low: int, high: int, optional: bool = False) -> _Integer:
    """Validator: a whole number in a range (true and false are not numbers here)."""
    return _Integer(low, high, optional)


@frozen
class _OneOf:
    choices: tuple
    optional: bool

    def __call__(self, instance, attribute: attrs.Attribute, value: Any) -> None:
        if value is None and self.optional:
            return
        if isinstance(value, bool) or not any(type(value) is type(c) and value == c for c in self.choices):
            listed = ", ".join(repr(c) for c in self.choices)
            raise InvalidRequest(f"{attribute.name} must be one of {listed}", field=attribute.name)

    def schema(self, stripped: bool) -> dict:
        kind = "integer" if all(isinstance(c, int) for c in self.choices) else "string"
        choices = [*self.choices, None] if self.optional else list(self.choices)
        return {"type": _nullable(kind, self.optional), "enum": choices}


def one_of(choices: Iterable[Any], *, optional: bool = False) -> _OneOf:
    """Validator: one of a fixed set of values, compared by type as well."""
    return _OneOf(tuple(choices), optional)


@frozen
class _HttpUrl:
    max_length: int
    optional: bool

    # Printable ASCII without spaces: a browser's location.href is always that (it percent-encodes the rest),
    # and Python and JSON Schema read this class the same way.
    PATTERN = r"https?://[!-~]+"

    def __call__(self, instance, attribute: attrs.Attribute, value: Any) -> None:
        name = attribute.name
        if value is None and self.optional:
            return
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string", field=name)
        if len(value) > self.max_length:
            raise InvalidRequest(f"{name} must have at most {self.max_length} characters, got {len(value)}", field=name)
        if not re.fullmatch(self.PATTERN, value):
            raise InvalidRequest(f"{name} must be an http:// or https:// URL without spaces", field=name)

    def schema(self, stripped: bool) -> dict:
        return {"type": _nullable("string", self.optional), "maxLength": self.max_length, "pattern": f"^{self.PATTERN}$"}


def http_url(*, max_length: int, optional: bool = False) -> _HttpUrl:
    """Validator: an absolute http(s) URL of printable ASCII, such as a page's address."""
    return _HttpUrl(max_length, optional)


@frozen
class _Boolean:
    def __call__(self, instance, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, bool):
            raise InvalidRequest(f"{attribute.name} must be true or false", field=attribute.name)

    def schema(self, stripped: bool) -> dict:
        return {"type": ["boolean", "null"]}  # a null is absent: the default applies


boolean = _Boolean()  # Validator: true or false.


def field_schema(attribute: attrs.Attribute) -> dict:
    """The JSON Schema of what a request field accepts: from its validator, or its own `schema` metadata."""
    if "schema" in attribute.metadata:
        schema = dict(attribute.metadata["schema"])
    else:
        schema = attribute.validator.schema(stripped=attribute.converter is strip)
    if "doc" in attribute.metadata:
        schema["description"] = " ".join(filter(None, [attribute.metadata["doc"], schema.get("description")]))
    return schema


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


def clean(value: str) -> bool:
    """Whether a string is free of control characters (tab, newline and carriage return aside) and lone surrogates."""
    return _FORBIDDEN.search(value) is None


# A string `clean` accepts, as a JSON Schema says it (see _FORBIDDEN_IN_SCHEMA).
CLEAN_STRING_PATTERN = rf"^[^{_FORBIDDEN_IN_SCHEMA}]*$"
