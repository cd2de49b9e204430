"""The OpenAPI 3.1 document of every route, field and error, and the offline Swagger UI page."""

from __future__ import annotations

from typing import Iterable

import attrs

from lib import __version__
from lib.validation import field_schema

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
def _event(name: str, data: dict) -> dict:
    """A server-sent event: its name, and its data as JSON of the given schema."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


def _header(description: str, schema: dict | None = None, *, required: bool = False) -> dict:
    return {"description": description, "schema": schema or {"type": "integer", "minimum": 0}, "required": required}


_REQUEST_ID_HEADER = {"X-Request-ID": _header("the request's id: the caller's when well-formed, else a new one", _STRING, required=True)}
_RETRY_AFTER = {"Retry-After": _header("seconds to wait before trying again", required=True)}
# On every reply of a rate-limited route, when RATE_LIMIT_PER_MINUTE or RATE_LIMIT_PER_DAY is set.
_RATE_HEADERS = {
    "X-RateLimit-Limit": _header("requests allowed in the window of the limit closest to running out"),
    "X-RateLimit-Remaining": _header("requests left in that window"),
    "X-RateLimit-Reset": _header("seconds until that window is full again"),
}


def _admin_errors() -> dict:
    """What an admin route (ADMIN_API_KEY, rate-limited, reading the database) can answer besides 200."""
    return {
        "400": _error("A parameter is out of range or given twice", limited=True),
        "401": _error("The admin key is missing or wrong", limited=True),
        "403": _error("ADMIN_API_KEY is not set: the route is disabled", limited=True),
        "429": _error("This client sent too many requests: see Retry-After", retry_after=True, limited=True),
        "500": _error("A bug; the message says nothing internal and the log has the trace", limited=True),
        "503": _error("The database is down; retry later", retry_after=True, limited=True),
    }


def _error(description: str, *, retry_after: bool = False, limited: bool = False) -> dict:
    return {
        "description": description,
        "headers": {**_REQUEST_ID_HEADER, **(_RETRY_AFTER if retry_after else {}), **(_RATE_HEADERS if limited else {})},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _errors(*, limited: bool) -> dict:
    """The errors every route with a JSON body may answer."""
    return {
        "400": _error("A field is missing, of the wrong type or out of range, or the body is not JSON", limited=limited),
        "401": _error("API_KEYS is set and the request carries none of them", limited=limited),
        "413": _error("The body is over MAX_BODY_BYTES, as sent or once decompressed"),
        "415": _error("The body is not JSON, or not UTF-8, or in a Content-Encoding other than gzip or deflate", limited=limited),
        "429": _error("This client sent too many requests: see Retry-After", retry_after=True, limited=True),
        "500": _error("A bug; the message says nothing internal and the log has the trace", limited=limited),
    }


_SOURCE = {
    "type": "object",
    "required": ["n", "title", "section", "url", "book", "score", "snippet", "chunk_id"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "title": _STRING,
        "section": _STRING,
        "url": {
            "type": "string",
            "description": "where the section is read: the page's address as the built site serves it (baseUrl, "
            "trailingSlash) plus `#` and the heading's anchor, percent-encoded; absolute "
            "(https://example.org/base/handbook/beds#bed-widths) when the site's url is known (its "
            "docusaurus.config, BOOK_URL, or the crawled address), else a path from the site's root "
            "(/docs/intro#setup). A heading without an id (an H1) links to the nearest heading above it that "
            "has one, or to the page. For an answer about a selection: the page_url the request sent.",
        },
        "book": {
            "type": ["string", "null"],
            "description": "the id of the docs instance (book) the section is in (`default` for the classic "
            "preset's docs); null for a crawled page that is no docs page, or a selection's page",
        },
        "score": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": (
                "how well the passage matches the question, on one scale for every book, mode and model: the "
                "refusal's relevance (lib/answer/refusal.py), from the share of the question's terms the book lacks, "
                "the passage's BM25 against its ceiling and, with embeddings, its cosine above the book's own floor. "
                "Sources are listed best first; an answer is quoted only from passages of 0.5 or more, and a model "
                "is shown those of 0.3 or more"
            ),
        },
        "snippet": _STRING,
        "chunk_id": {"type": "string", "description": "the passage's id in the index; empty for a selection's page"},
    },
}
_SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "request_id"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "enum": [
                            "invalid_request", "invalid_json", "unauthorized", "forbidden", "not_found", "method_not_allowed",
                            "payload_too_large", "unsupported_media_type", "rate_limited", "unavailable",
                            "upstream_timeout", "internal",
                        ],
                    },
                    "message": _STRING,
                    "field": {"type": "string", "description": "the field at fault, when one is"},
                },
            },
            "request_id": _STRING,
        },
    },
    "Source": _SOURCE,
    "QueryResponse": {
        "type": "object",
        "required": [
            "id", "answer", "answerable", "refusal_reason", "mode", "sources", "model", "usage", "cached", "request_id",
        ],
        "properties": {
            "id": {"type": "string", "description": "the answer's id, to rate it with /v1/feedback"},
            "answer": {"type": "string", "description": "Markdown; every [n] refers to an entry of sources"},
            "answerable": {"type": "boolean"},
            "refusal_reason": {"type": ["string", "null"], "enum": ["no_hits", "low_score", "out_of_scope", None]},
            "mode": {
                "type": "string",
                "enum": ["rag", "selected_text", "extractive", "refusal"],
                "description": "how the answer was made: rag (passages and a language model), selected_text (the "
                "reader's selection and a model), extractive (quoted, no model), refusal (exactly when answerable is "
                "false; model and usage still say what a model was asked, e.g. when it judged the book silent)",
            },
            "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}},
            "model": _NULLABLE_STRING,
            "usage": {
                "type": "object",
                "required": ["prompt_tokens", "completion_tokens"],
                "properties": {"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}},
            },
            "cached": {"type": "boolean"},
            "request_id": _STRING,
        },
    },
    "QueryEvent": {
        "description": "One server-sent event of a streamed answer; its data is one line of JSON.",
        "oneOf": [
            _event("sources", {"type": "array", "items": {"$ref": "#/components/schemas/Source"}}),
            _event("delta", {"type": "object", "required": ["text"], "properties": {"text": _STRING}}),
            _event("done", {"$ref": "#/components/schemas/QueryDone"}),
            _event("error", {"$ref": "#/components/schemas/Error"}),
        ],
    },
    "Health": {
        "type": "object",
        "required": ["status", "services", "collection", "version"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["healthy", "degraded", "unhealthy", "starting"],
                "description": "starting (HTTP 200) while the book is indexed at start-up; unhealthy is the only 503",
            },
            "services": {
                "type": "object",
                "properties": {
                    name: {"type": "string", "enum": ["healthy", "unhealthy", "disabled", "starting"]}
                    for name in ("database", "vector_db", "openai_api")
                },
            },
            "collection": {
                "type": "object",
                "properties": {
                    "name": _STRING,
                    "points": {"type": "integer"},
                    "dense_size": {"type": ["integer", "null"]},
                },
            },
            "version": _STRING,
            "indexing": {
                "type": "string",
                "description": "present while the book is being indexed at start-up: what, and the latest progress",
            },
            "errors": {"type": "object", "additionalProperties": _STRING, "description": "why, per service"},
        },
    },
    "FeedbackRecorded": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": _STRING, "status": {"type": "string", "enum": ["recorded"]}},
    },
}

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "of the questions; null when there were none"}
_USD = {"type": ["number", "null"], "minimum": 0, "description": "estimated with MODEL_PRICES; null when a model has no price"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_MS = {"type": ["number", "null"], "minimum": 0}
_DAY_FIELDS = {
    "questions": {"type": "integer", "minimum": 0},
    "answered": {"type": "integer", "minimum": 0, "description": "by the language model, or from the reader's selection"},
    "extractive": {"type": "integer", "minimum": 0, "description": "answered with mode extractive: quoted, no model"},
    "refused": {"type": "integer", "minimum": 0},
    "refusal_reasons": _COUNTS,
    "up": {"type": "integer", "minimum": 0},
    "down": {"type": "integer", "minimum": 0},
    "down_reasons": _COUNTS,
    "latency_ms": {
        "type": "object",
        "required": ["p50", "p95"],
        "properties": {"p50": _MS, "p95": _MS},
        "description": "nearest rank: the value at rank ceil(p/100 * n) of the sorted latencies; null with no answers",
    },
    "prompt_tokens": {"type": "integer", "minimum": 0},
    "completion_tokens": {"type": "integer", "minimum": 0},
    "cost_usd": _USD,
    "shares": {
        "type": "object",
        "required": ["answered", "extractive", "refused", "refusal_reasons"],
        "properties": {
            "answered": _SHARE,
            "extractive": _SHARE,
            "refused": _SHARE,
            "refusal_reasons": {"type": "object", "additionalProperties": _SHARE},
        },
    },
}
_SCHEMAS["AnalyticsDay"] = {
    "type": "object",
    "required": ["day", *_DAY_FIELDS],
    "properties": {"day": {"type": "string", "format": "date", "description": "a UTC day"}, **_DAY_FIELDS},
}
_SCHEMAS["AnalyticsTotals"] = {"type": "object", "required": list(_DAY_FIELDS), "properties": _DAY_FIELDS}
_QUESTION = {"type": ["string", "null"], "description": "null when STORE_QUERIES=false"}
_SCHEMAS["Analytics"] = {
    "type": "object",
    "required": [
        "period", "since", "until", "queries_hidden", "totals", "by_day", "models", "most_asked", "most_refused",
        "most_down_voted",
    ],
    "properties": {
        "period": {"type": "string", "enum": ["day", "week", "month"]},
        "since": {"type": "string", "format": "date-time", "description": "inclusive: midnight UTC of the first day"},
        "until": {"type": "string", "format": "date-time", "description": "exclusive: midnight UTC after the last day"},
        "queries_hidden": {"type": "boolean", "description": "STORE_QUERIES=false: every question text is null"},
        "totals": {"$ref": "#/components/schemas/AnalyticsTotals"},
        "by_day": {"type": "array", "items": {"$ref": "#/components/schemas/AnalyticsDay"}},
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["model", "answers", "prompt_tokens", "completion_tokens", "price_per_million", "cost_usd"],
                "properties": {
                    "model": _NULLABLE_STRING,
                    "answers": {"type": "integer", "minimum": 0},
                    "prompt_tokens": {"type": "integer", "minimum": 0},
                    "completion_tokens": {"type": "integer", "minimum": 0},
                    "price_per_million": {
                        "type": ["object", "null"],
                        "properties": {"prompt": {"type": "number"}, "completion": {"type": "number"}},
                    },
                    "cost_usd": _USD,
                },
            },
        },
        "most_asked": {
            "type": "array",
            "description": "questions counted together when they differ only by case and whitespace",
            "items": {
                "type": "object",
                "required": ["query", "count", "refused"],
                "properties": {"query": _QUESTION, "count": {"type": "integer"}, "refused": {"type": "integer"}},
            },
        },
        "most_refused": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["query", "count", "reasons"],
                "properties": {"query": _QUESTION, "count": {"type": "integer"}, "reasons": _COUNTS},
            },
        },
        "most_down_voted": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "answer_id", "down", "up", "last_down_at", "query", "answer", "mode", "model", "answered_at",
                    "answer_logged", "reasons", "comments", "cited",
                ],
                "properties": {
                    "answer_id": _STRING,
                    "down": {"type": "integer"},
                    "up": {"type": "integer"},
                    "last_down_at": {"type": "string", "format": "date-time"},
                    "query": _QUESTION,
                    "answer": {"type": ["string", "null"], "description": "as the reader saw it, when the rating sent it"},
                    "mode": _NULLABLE_STRING,
                    "model": _NULLABLE_STRING,
                    "answered_at": _NULLABLE_TIME,
                    "answer_logged": {"type": "boolean", "description": "false: pruned or never logged"},
                    "reasons": _COUNTS,
                    "comments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["rating", "reason", "comment", "at"],
                            "properties": {
                                "rating": {"type": "integer", "enum": [1, -1]},
                                "reason": _NULLABLE_STRING,
                                "comment": _STRING,
                                "at": {"type": "string", "format": "date-time"},
                            },
                        },
                    },
                    "cited": {
                        "type": "array",
                        "description": "the sections the answer cited, as the readers' snapshots name them",
                        "items": {
                            "type": "object",
                            "required": ["chunk_id"],
                            "properties": {"chunk_id": _STRING, "title": _STRING, "section": _STRING, "url": _STRING},
                        },
                    },
                },
            },
        },
    },
}

_STREAMED_APART = ("answer", "sources")  # a stream sends these as delta and sources events
_SCHEMAS["QueryDone"] = {
    "type": "object",
    "description": "The done event of a stream: the answer's JSON without what the stream sent before it.",
    "required": [name for name in _SCHEMAS["QueryResponse"]["required"] if name not in _STREAMED_APART],
    "properties": {
        name: schema for name, schema in _SCHEMAS["QueryResponse"]["properties"].items() if name not in _STREAMED_APART
    },
}


def _json_body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _json(description: str, schema: str, *, limited: bool = False) -> dict:
    return {
        "description": description,
        "headers": {**_REQUEST_ID_HEADER, **(_RATE_HEADERS if limited else {})},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _health(method: str) -> dict:
    return {
        "summary": "Readiness of the service and each dependency",
        "operationId": f"health_{method}",
        "description": "Not rate-limited; the report is cached for a few seconds.",
        "responses": {
            "200": _json("healthy or degraded: the service can answer; starting: the book is being indexed at start-up", "Health"),
            "503": _json("unhealthy: the service can't answer", "Health"),
        },
    }


_LIMITED = (
    "Rate-limited per client (its address, and its API key when it presents one) by RATE_LIMIT_PER_MINUTE "
    "and RATE_LIMIT_PER_DAY: past them, 429 with Retry-After; every reply carries X-RateLimit-Limit, "
    "X-RateLimit-Remaining and X-RateLimit-Reset."
)
# Without API_KEYS the route is open; with it, either scheme carries a key.
_OPTIONAL_KEY = [{}, {"apiKey": []}, {"apiKeyHeader": []}]


def _object(cls: type) -> dict:
    """A request value's JSON Schema, from its fields' validators: the limits the server enforces, stated once."""
    fields = {attribute.name: attribute for attribute in attrs.fields(cls)}
    return {
        "type": "object",
        "required": list(cls.REQUIRED),
        "additionalProperties": False,
        "description": "A null field counts as absent. The body is at most MAX_BODY_BYTES (64 KiB by default).",
        "properties": {name: field_schema(fields[name]) for name in cls.FIELDS},
        **getattr(cls, "SCHEMA", {}),  # what ties fields together
    }


def _parameters(cls: type) -> list[dict]:
    """A query string's parameters, from the value it is read into; a parameter is never null."""
    parameters = []
    for attribute in attrs.fields(cls):
        if attribute.name not in cls.FIELDS:
            continue
        schema = field_schema(attribute)
        description = schema.pop("description", "")
        if isinstance(schema["type"], list):
            schema["type"] = next(kind for kind in schema["type"] if kind != "null")
            if "enum" in schema:
                schema["enum"] = [choice for choice in schema["enum"] if choice is not None]
        if attribute.default is not None:
            schema["default"] = attribute.default
        parameters.append(_query(attribute.name, schema, description))
    return parameters


def document(requests: Iterable[type]) -> dict:
    """The OpenAPI document; `requests` are the request values (QueryRequest, Turn, FeedbackRequest,
    FeedbackQuery, AnalyticsQuery), whose fields say what each route accepts."""
    by_name = {cls.__name__: cls for cls in requests}
    schemas = {**_SCHEMAS, **{name: _object(by_name[name]) for name in ("QueryRequest", "Turn", "FeedbackRequest")}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bookbot",
            "version": __version__,
            "description": "Answers readers' questions from a book, with links to the exact section.",
        },
        "paths": {
            "/v1/query": {
                "post": {
                    "summary": "Answer a question about the book, with sources",
                    "operationId": "query",
                    "description": _LIMITED,
                    "security": _OPTIONAL_KEY,
                    "requestBody": _json_body("QueryRequest"),
                    "responses": {
                        "200": {
                            "description": "The answer, or a refusal when the book does not support one",
                            "headers": {**_REQUEST_ID_HEADER, **_RATE_HEADERS},
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/QueryResponse"}},
                                "text/event-stream": {
                                    "schema": {"$ref": "#/components/schemas/QueryEvent"},
                                    "description": "with stream: true: one sources event, delta events, then done or error",
                                },
                            },
                        },
                        **_errors(limited=True),
                        "503": _error(
                            "The vector store is down, or the book is not indexed yet; the language model being down "
                            "is no error: the answer is extractive",
                            retry_after=True,
                            limited=True,
                        ),
                        "504": _error("A dependency took too long", limited=True),
                    },
                }
            },
            "/health": {"get": _health("get"), "head": _health("head")},
            "/metrics": {
                "get": {
                    "summary": "This process's counters and histograms, in Prometheus's text format",
                    "operationId": "metrics",
                    "description": (
                        "Requests by route and status, answer latency by mode, model tokens, cache lookups, "
                        "rate-limited requests, dependency errors, indexing runs. Not rate-limited. With "
                        "METRICS_API_KEY set, a scraper presents it as a Bearer token (an address that sent 20 wrong "
                        "keys in a minute gets 429 for a while); unset, the route is open."
                    ),
                    "security": [{}, {"metrics": []}],
                    "responses": {
                        "200": {
                            "description": "The text exposition format, version 0.0.4",
                            "headers": _REQUEST_ID_HEADER,
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _error("METRICS_API_KEY is set and the request does not present it"),
                        "429": _error("This address sent too many wrong keys: see Retry-After", retry_after=True, limited=True),
                        "500": _error("A bug; the message says nothing internal and the log has the trace"),
                    },
                }
            },
            "/v1/feedback": {
                "post": {
                    "summary": "A reader's rating of one answer",
                    "operationId": "feedback",
                    "description": _LIMITED,
                    "security": _OPTIONAL_KEY,
                    "requestBody": _json_body("FeedbackRequest"),
                    "responses": {
                        "201": _json("Stored", "FeedbackRecorded", limited=True),
                        "200": _json("Stored before under the same feedback_id; nothing stored twice", "FeedbackRecorded", limited=True),
                        **_errors(limited=True),
                        "503": _error("The database is down; retry later", retry_after=True, limited=True),
                    },
                },
                "get": {
                    "summary": "Admin: a page of feedback joined to its answers, or a summary",
                    "operationId": "feedback_admin",
                    "description": _LIMITED + " A parameter given twice is refused.",
                    "security": [{"admin": []}],
                    "parameters": _parameters(by_name["FeedbackQuery"]),
                    "responses": {
                        "200": {
                            "description": "With view=list: {items, next_before}; with view=summary: counts",
                            "headers": {**_REQUEST_ID_HEADER, **_RATE_HEADERS},
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_admin_errors(),
                    },
                },
            },
            "/v1/admin/analytics": {
                "get": {
                    "summary": "Admin: what readers asked and how it went, per UTC day, for the analytics page at /admin",
                    "operationId": "analytics",
                    "description": _LIMITED + " A parameter given twice is refused. Read from the answer log and the feedback.",
                    "security": [{"admin": []}],
                    "parameters": _parameters(by_name["AnalyticsQuery"]),
                    "responses": {
                        "200": _json("The analytics of the period", "Analytics", limited=True),
                        **_admin_errors(),
                    },
                },
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "one of API_KEYS, when set"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "the same, as a header"},
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_API_KEY"},
                "metrics": {"type": "http", "scheme": "bearer", "description": "METRICS_API_KEY, when set"},
            },
        },
    }


SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Bookbot API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""
