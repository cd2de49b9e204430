"""One JSON line per request with what the reply adds; tracebacks in the log, never in a reply.

Over real HTTP, test_catalogue.py reads the access lines of the service's log
at INFO and test_load.py checks that LOG_LEVEL=WARNING keeps them out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace

import falcon
import falcon.asgi
import falcon.testing

from lib.config import Config
from lib.guards import Guards
from lib.hosts import Pool, falcon_host
from lib.hosts.messages import Reply, Route
from lib.metrics import Metrics
from tests.hardening.checks import events

KEY = "log-test-key-123456"


class Clients:
    """A pool with nothing in it but configuration, guards and metrics: these routes need no dependency."""

    def __init__(self, config: Config):
        self.config = config
        self.guards = Guards.from_config(config)
        self.metrics = Metrics()


async def cached_answer(request, clients) -> Reply:
    return Reply(body={"answer": "42"}, log={"cached": True, "prompt_tokens": 12, "completion_tokens": 3})


async def streamed_answer(request, clients) -> Reply:
    fields: dict = {}

    async def stream():
        yield "delta", {"text": "forty"}
        fields.update(prompt_tokens=20, completion_tokens=2)  # known only once the model is done
        yield "done", {"id": "ans_1"}

    return Reply(events=stream(), log=fields)


async def buggy(request, clients) -> Reply:
    raise RuntimeError("password=hunter2 in /srv/app/secret.py")


async def buggy_stream(request, clients) -> Reply:
    async def stream():
        yield "delta", {"text": "so far so good"}
        raise KeyError("internal detail")

    return Reply(events=stream())


def streamed_get(client: falcon.testing.TestClient, path: str):
    """GET a stream to its end as a client that stays (a one-shot simulate_get leaves at once, as Falcon
    simulates it, and a stream that yields to the event loop is cut short)."""

    async def run():
        async with falcon.testing.ASGIConductor(client.app) as conductor:
            async with conductor.simulate_get_stream(path) as result:
                body, deadline = b"", time.monotonic() + 10
                while not result._task.done() and time.monotonic() < deadline:
                    body += await result.stream.read()
                    await asyncio.sleep(0.01)
                body += await result.stream.read()
        return SimpleNamespace(text=body.decode())

    return asyncio.run(run())


def app_of(*routes: Route) -> falcon.testing.TestClient:
    pool = Pool(clients=Clients(Config(api_keys=(KEY,))))
    return falcon.testing.TestClient(falcon_host.app(routes, pool))


def access_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "bookbot.access"]


def test_a_reply_carries_its_log_fields_to_the_one_access_line(caplog):
    client = app_of(Route("GET", "/answer", lambda incoming: None, cached_answer, needs_key=True))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/answer", headers={"X-API-Key": KEY, "X-Request-ID": "req-42"})
    assert result.status_code == 200
    [line] = access_lines(caplog)
    assert (line.request_id, line.route, line.status, line.cached, line.prompt_tokens) == ("req-42", "/answer", 200, True, 12)
    assert line.latency_ms >= 0 and len(line.key_id) == 16 and KEY not in json.dumps(line.__dict__, default=str)


def test_a_stream_is_logged_when_it_ends_with_what_it_learnt_on_the_way(caplog):
    client = app_of(Route("GET", "/stream", lambda incoming: None, streamed_answer))
    with caplog.at_level(logging.INFO):
        result = streamed_get(client, "/stream")
    assert [name for name, _ in events(result.text)] == ["delta", "done"]
    [line] = access_lines(caplog)
    assert (line.stream_end, line.prompt_tokens, line.completion_tokens) == ("done", 20, 2)


def test_a_bug_answers_500_saying_nothing_and_only_the_log_has_the_trace(caplog):
    client = app_of(Route("GET", "/buggy", lambda incoming: None, buggy))
    with caplog.at_level(logging.INFO):
        result = client.simulate_get("/buggy")
    assert result.status_code == 500 and result.json["error"]["code"] == "internal"
    assert "hunter2" not in result.text and "secret.py" not in result.text and "Traceback" not in result.text
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert error.exc_info and "hunter2" in str(error.exc_info[1])
    assert result.json["request_id"] in error.getMessage()


def test_a_bug_in_the_middle_of_a_stream_ends_it_with_an_error_event_not_a_cut(caplog):
    client = app_of(Route("GET", "/buggy-stream", lambda incoming: None, buggy_stream))
    with caplog.at_level(logging.INFO):
        result = streamed_get(client, "/buggy-stream")
    sent = events(result.text)
    assert [name for name, _ in sent] == ["delta", "error"]
    assert json.loads(sent[-1][1])["error"]["code"] == "internal" and "internal detail" not in result.text
    assert any(record.exc_info for record in caplog.records if record.levelno == logging.ERROR)
    assert access_lines(caplog)[-1].stream_end == "error"
