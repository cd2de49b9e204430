"""Errors reach Sentry through sentry-sdk's own client, with its transport replaced by one that keeps the events.

The app is the real one (router.create_app over a real pool), the errors are
real: PostgreSQL refusing a row, the loopback OpenAI refusing a key. What is
checked is each event as it would have been sent, serialised to JSON.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from types import SimpleNamespace

import falcon.asgi
import falcon.testing
import pytest
from sentry_sdk.transport import Transport

import router
from lib import monitoring
from lib.config import Config
from lib.hosts import Pool, falcon_host, pages
from lib.metrics import Metrics
from tests.parts import pool
from tests.pg import admin_connection
from tests.service import REPO

pytestmark = pytest.mark.anyio

DSN = "https://public-key@sentry.example.org/42"
API_KEY = "reader-key-4f1d9a"
ADMIN_KEY = "admin-key-8c2e71"
OPENAI_KEY = "sk-test-3b9e0c7d51"
QDRANT_KEY = "qdrant-key-0a6f2e"
QUESTION = "How do I deploy to a Hugging Face Space?"
COMMENT = "my private remark about chunk sizes"
AUTHORIZATION = {"Authorization": f"Bearer {API_KEY}"}


class Recorder(Transport):
    """A transport that keeps every event instead of sending it."""

    def __init__(self):
        super().__init__()
        self.events: list[dict] = []

    def capture_envelope(self, envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@contextlib.contextmanager
def reported(config):
    """Sentry set up as the service sets it up, for this test alone; the events it would have sent."""
    recorder = Recorder()
    assert monitoring.setup(config, transport=recorder)
    try:
        yield recorder.events
    finally:
        monitoring.shutdown()


def assert_keeps_secrets(event: dict) -> str:
    text = json.dumps(event)
    for secret in (API_KEY, ADMIN_KEY, OPENAI_KEY, QDRANT_KEY, AUTHORIZATION["Authorization"]):
        assert secret not in text
    return text


def secured(config_for, index, **changes):
    return config_for(
        index, sentry_dsn=DSN, api_keys=(API_KEY,), admin_api_key=ADMIN_KEY, qdrant_api_key=QDRANT_KEY, **changes
    )


@pytest.mark.parametrize("store_queries", [False, True])
async def test_an_unhandled_error_is_reported_without_keys_or_unless_allowed_the_readers_words(
    config_for, sparse_index, database_url, store_queries
):
    """PostgreSQL refuses the row, and its message quotes it: the question and the comment are in the error."""
    config = secured(config_for, sparse_index, database_url=database_url, store_queries=store_queries)
    async with pool(config) as clients:
        await clients.store.migrate()
        with admin_connection(database_url) as database:
            database.run("ALTER TABLE feedback ADD CONSTRAINT no_down_votes CHECK (rating > 0)")
        with reported(config) as events:
            async with falcon.testing.ASGIConductor(router.create_app(clients=clients)) as app:
                rating = {"answer_id": "ans_1", "rating": -1, "query": QUESTION, "comment": COMMENT}
                response = await app.simulate_post("/v1/feedback", json=rating, headers=AUTHORIZATION)
    assert response.status_code == 500 and response.json["error"]["code"] == "internal"
    [event] = events
    assert event["level"] == "error" and event["tags"]["route"] == "/v1/feedback"
    assert event["tags"]["request_id"] == response.json["request_id"]
    text = assert_keeps_secrets(event)
    assert "Failing row contains" in text and '"vars"' not in text  # the message, and no frame's variables
    assert (QUESTION in text and COMMENT in text) is store_queries
    assert (QUESTION not in text and COMMENT not in text) is not store_queries


async def test_a_failing_dependency_is_reported_once_a_minute_at_most(config_for, dense_index, fake_openai):
    """The model refuses the key and quotes what it was sent; each answer falls back to quoting the book."""
    config = secured(config_for, dense_index, openai_api_key=OPENAI_KEY, store_queries=False)
    message = f"Incorrect API key provided: {OPENAI_KEY}. Input: {QUESTION}"
    fake_openai.fail_next(401, times=3, path="chat/completions", message=message)
    async with pool(config) as clients:
        with reported(config) as events:
            async with falcon.testing.ASGIConductor(router.create_app(clients=clients)) as app:
                for _ in range(3):
                    response = await app.simulate_post("/v1/query", json={"query": QUESTION}, headers=AUTHORIZATION)
                    assert response.status_code == 200 and response.json["mode"] == "extractive"
    [event] = events  # three failures, one event: the outage is news once
    assert event["level"] == "warning" and event["tags"] == {"service": "openai"}
    assert event["exception"]["values"][-1]["type"] == "AuthenticationError"
    text = assert_keeps_secrets(event)
    assert QUESTION not in text and "Incorrect API key provided: [redacted]. Input: [redacted]" in text


async def test_a_page_whose_file_is_gone_is_a_500_that_is_reported(tmp_path):
    """A page whose file has gone: the page's route fails, the serve step answers 500 and reports it."""
    config = Config(sentry_dsn=DSN)
    app = falcon_host.app([pages.page("/page", tmp_path / "gone.html")], Pool(clients=SimpleNamespace(config=config, metrics=Metrics())))
    with reported(config) as events:
        async with falcon.testing.ASGIConductor(app) as client:
            response = await client.simulate_get("/page")
    assert response.status_code == 500 and response.json["error"]["code"] == "internal"
    [event] = events
    assert event["exception"]["values"][-1]["type"] == "FileNotFoundError"
    assert event["tags"] == {"request_id": response.json["request_id"], "method": "GET", "route": "/page"}


def test_without_a_dsn_nothing_is_sent_and_sentry_sdk_is_never_imported(tmp_path):
    """A fresh process, as a host starts it: the app made from the environment, requests served, errors reported."""
    script = """
import asyncio, sys
import falcon.testing
import router
from lib import monitoring
from lib.config import Config
from lib.hosts import falcon_host

async def serve():
    async with falcon.testing.ASGIConductor(router.app) as app:
        assert (await app.simulate_get("/health")).status_code in (200, 503)
        assert (await app.simulate_get("/metrics")).status_code == 200
        assert (await app.simulate_post("/v1/query", json={"query": ""})).status_code == 400

asyncio.run(serve())
monitoring.report_error(RuntimeError("a bug"))
monitoring.dependency_failed("openai", ConnectionError("down"), 1)
monitoring.flush()
assert "sentry_sdk" not in sys.modules, "sentry_sdk was imported"
print("never imported")
"""
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), "INDEX_ON_START": "false", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "never imported" in done.stdout, done.stderr[-3000:]
