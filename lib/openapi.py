"""The OpenAPI 3.1 document of every route, field and error, and the offline Swagger UI page."""

from __future__ import annotations

from lib import __version__

_STRING = {"type": "string"}
_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]+$", "minLength": 1, "maxLength": 128}
_SESSION = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$", "minLength": 1, "maxLength": 128}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _error(description: str, *, retry_after: bool = False) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
    return response


_ERRORS = {
    "400": _error("A field is missing, of the wrong type or out of range, or the body is not JSON"),
    "401": _error("API_KEYS is set and the request carries none of them"),
    "413": _error("The body is over MAX_BODY_BYTES"),
    "415": _error("The body is not JSON"),
    "500": _error("A bug; the message says nothing internal and the log has the trace"),
}
_SOURCE = {
    "type": "object",
    "required": ["n", "title", "section", "url", "score", "snippet", "chunk_id"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "title": _STRING,
        "section": _STRING,
        "url": {"type": "string", "description": "the page's route plus the heading's anchor"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "snippet": _STRING,
        "chunk_id": _STRING,
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
                            "invalid_request", "invalid_json", "unauthorized", "not_found", "method_not_allowed",
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
    "Turn": {
        "type": "object",
        "required": ["role", "content"],
        "additionalProperties": False,
        "properties": {
            "role": {"type": "string", "enum": ["user", "assistant"]},
            "content": {"type": "string", "minLength": 1, "maxLength": 16000},
        },
    },
    "QueryRequest": {
        "type": "object",
        "required": ["query"],
        "additionalProperties": False,
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "the question; stripped"},
            "top_k": {"type": "integer", "minimum": 1, "maximum": 20, "description": "default TOP_K (5)"},
            "selected_text": {"type": "string", "maxLength": 8000, "description": "answer from this text only"},
            "history": {
                "type": "array",
                "maxItems": 20,
                "items": {"$ref": "#/components/schemas/Turn"},
                "description": "earlier turns, at most 16,000 characters in all",
            },
            "session_id": _SESSION,
            "stream": {"type": "boolean", "description": "true answers as text/event-stream"},
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
            "mode": {"type": "string", "enum": ["rag", "selected_text", "extractive"]},
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
    "Health": {
        "type": "object",
        "required": ["status", "services", "collection", "version"],
        "properties": {
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "services": {
                "type": "object",
                "properties": {
                    name: {"type": "string", "enum": ["healthy", "unhealthy", "disabled"]}
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
            "indexing": {"type": "string", "description": "present while the book is being indexed"},
            "errors": {"type": "object", "additionalProperties": _STRING, "description": "why, per service"},
        },
    },
    "FeedbackRequest": {
        "type": "object",
        "required": ["answer_id", "rating"],
        "additionalProperties": False,
        "properties": {
            "feedback_id": {"type": "string", "format": "uuid", "description": "makes a retry idempotent"},
            "answer_id": _ID,
            "rating": {"type": "integer", "enum": [1, -1]},
            "reason": {"type": "string", "enum": ["wrong", "incomplete", "irrelevant", "unclear", "other"]},
            "comment": {"type": "string", "maxLength": 1000},
            "query": {"type": "string", "maxLength": 2000},
            "answer": {"type": "string", "maxLength": 20000},
            "sources": {"type": "array", "maxItems": 20, "items": {"type": "object"}},
            "selected_text": {"type": "string", "maxLength": 8000},
            "session_id": _SESSION,
        },
    },
    "FeedbackRecorded": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": _STRING, "status": {"type": "string", "enum": ["recorded"]}},
    },
}


def _json_body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _json(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _health(method: str) -> dict:
    return {
        "summary": "Readiness of the service and each dependency",
        "operationId": f"health_{method}",
        "responses": {
            "200": _json("healthy or degraded: the service can answer", "Health"),
            "503": _json("unhealthy: the service can't answer", "Health"),
        },
    }


def document() -> dict:
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
                    "requestBody": _json_body("QueryRequest"),
                    "responses": {
                        "200": {
                            "description": "The answer, or a refusal when the book does not support one",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/QueryResponse"}},
                                "text/event-stream": {
                                    "schema": {"type": "string"},
                                    "description": "with stream: true: events sources, delta..., then done or error",
                                },
                            },
                        },
                        **_ERRORS,
                        "503": _error("The vector store is down, or the book is not indexed yet", retry_after=True),
                        "504": _error("A dependency took too long"),
                    },
                }
            },
            "/health": {"get": _health("get"), "head": _health("head")},
            "/v1/feedback": {
                "post": {
                    "summary": "A reader's rating of one answer",
                    "operationId": "feedback",
                    "requestBody": _json_body("FeedbackRequest"),
                    "responses": {
                        "201": _json("Stored", "FeedbackRecorded"),
                        "200": _json("Stored before under the same feedback_id; nothing stored twice", "FeedbackRecorded"),
                        **_ERRORS,
                        "503": _error("The database is down; retry later", retry_after=True),
                    },
                },
                "get": {
                    "summary": "Admin: a page of feedback joined to its answers, or a summary",
                    "operationId": "feedback_admin",
                    "security": [{"admin": []}],
                    "parameters": [
                        _query("view", {"type": "string", "enum": ["list", "summary"], "default": "list"}),
                        _query("rating", {"type": "integer", "enum": [1, -1]}),
                        _query("reason", {"type": "string", "enum": ["wrong", "incomplete", "irrelevant", "unclear", "other"]}),
                        _query("since", {"type": "string", "format": "date-time"}, "inclusive, ISO 8601"),
                        _query("until", {"type": "string", "format": "date-time"}, "exclusive, ISO 8601"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                        _query("before", {"type": "string", "maxLength": 200}, "a page's next_before"),
                    ],
                    "responses": {
                        "200": {
                            "description": "With view=list: {items, next_before}; with view=summary: counts",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": _ERRORS["400"],
                        "401": _error("The admin key is missing or wrong"),
                        "403": _error("ADMIN_API_KEY is not set: the route is disabled"),
                        "503": _error("The database is down; retry later", retry_after=True),
                    },
                },
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "one of API_KEYS, when set"},
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_API_KEY"},
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
