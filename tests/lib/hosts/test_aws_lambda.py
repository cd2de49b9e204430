"""The AWS Lambda adapter: API Gateway HTTP API (v2) events run the same handlers as HTTP does."""

import base64
import json

import pytest

import router
from lib.clients import open_clients
from lib.hosts import Pool, aws_lambda

pytestmark = pytest.mark.anyio


def event(method: str, path: str, body: dict | None = None, *, headers=None, encode=False, query=None) -> dict:
    """A real-shaped payload format 2.0 event, as API Gateway sends it."""
    raw = json.dumps(body) if body is not None else None
    if raw is not None and encode:
        raw = base64.b64encode(raw.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query,
        "headers": {"content-type": "application/json", "user-agent": "curl/8.0", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl/8.0"},
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1795510800000,
        },
        "body": raw,
        "isBase64Encoded": encode,
    }


@pytest.fixture
def lambda_handler(config_for, sparse_index):
    config = config_for(sparse_index)
    return aws_lambda.adapt(router.ROUTES, Pool(opener=lambda: open_clients(config, background=False)))


def test_answers_a_question_as_the_http_host_does(lambda_handler):
    response = lambda_handler(event("POST", "/v1/query", {"query": "What is the default chunk size?"}, encode=True), None)
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"] == "application/json"
    assert body["mode"] == "extractive" and body["sources"][0]["url"].startswith("/docs/")
    assert response["headers"]["X-Request-ID"] == body["request_id"]


def test_gives_the_same_answer_as_the_falcon_host(config_for, sparse_index):
    import falcon.testing

    from tests.parts import pool

    question = {"query": "How do I deploy to a Hugging Face Space?", "top_k": 3}
    config = config_for(sparse_index)
    lambda_body = json.loads(aws_lambda.adapt(router.ROUTES, Pool(opener=lambda: open_clients(config, background=False)))(event("POST", "/v1/query", question), None)["body"])

    async def via_falcon():
        async with pool(config) as clients:
            async with falcon.testing.ASGIConductor(router.create_app(clients=clients)) as conductor:
                return (await conductor.simulate_post("/v1/query", json=question)).json

    import asyncio

    falcon_body = asyncio.run(via_falcon())
    drop = lambda body: {k: v for k, v in body.items() if k not in ("id", "request_id")}  # noqa: E731
    assert drop(lambda_body) == drop(falcon_body)


def test_validation_errors_have_the_contract_shape(lambda_handler):
    response = lambda_handler(event("POST", "/v1/query", {"query": ""}), None)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and body["error"] == {"code": "invalid_request", "message": "query must not be empty", "field": "query"}


def test_unknown_paths_and_methods(lambda_handler):
    assert lambda_handler(event("GET", "/nope"), None)["statusCode"] == 404
    response = lambda_handler(event("PUT", "/health"), None)
    assert response["statusCode"] == 405 and "GET" in response["headers"]["Allow"]


def test_health_and_head(lambda_handler):
    got = lambda_handler(event("GET", "/health"), None)
    head = lambda_handler(event("HEAD", "/health"), None)
    assert got["statusCode"] == head["statusCode"] == 200
    assert json.loads(got["body"])["status"] == "degraded" and head["body"] == ""


def test_streams_as_one_buffered_event_stream(lambda_handler):
    response = lambda_handler(event("POST", "/v1/query", {"query": "What is the default chunk size?", "stream": True}), None)
    assert response["headers"]["Content-Type"] == "text/event-stream"
    events = [block.split("\n")[0] for block in response["body"].strip().split("\n\n")]
    assert events == ["event: sources", "event: delta", "event: done"]


def test_serves_the_metrics_as_text_with_this_processs_numbers(lambda_handler):
    from prometheus_client.parser import text_string_to_metric_families

    assert lambda_handler(event("GET", "/health"), None)["statusCode"] == 200
    response = lambda_handler(event("GET", "/metrics"), None)
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = {
        (sample.name, sample.labels.get("route")): sample.value
        for family in text_string_to_metric_families(response["body"])
        for sample in family.samples
    }
    assert values[("bookbot_requests_total", "/health")] == 1
