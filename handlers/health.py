"""GET and HEAD /health: whether the service can answer, and the state of each dependency."""

from __future__ import annotations

import asyncio

from attrs import frozen

from lib import __version__
from lib.answer import retrieval
from lib.breaker import OPEN
from lib.clients import Clients
from lib.hosts.messages import Incoming, Reply
from lib.index.vectors import is_empty

CHECK_TIMEOUT_SECONDS = 2.0
HEALTHY, UNHEALTHY, DISABLED, STARTING = "healthy", "unhealthy", "disabled", "starting"
# The background indexing's phases before the book can be searched; embedding it comes after.
_GETTING_READY = ("migrating", "indexing")


@frozen
class HealthRequest:
    """Health takes no input; HEAD and GET differ only in the body the host sends."""


def parse(incoming: Incoming) -> HealthRequest:
    return HealthRequest()


async def _timed(check, name: str, seconds: float = CHECK_TIMEOUT_SECONDS) -> tuple[str, str | None, object]:
    """Run one check with its own timeout: (state, error, detail)."""
    try:
        return await asyncio.wait_for(check, seconds)
    except asyncio.TimeoutError:
        return UNHEALTHY, f"{name} did not answer within {seconds:g} s", None
    except Exception as error:  # a check's failure is its report, never the endpoint's
        return UNHEALTHY, _short(error), None


def _short(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return message.splitlines()[0][:200]


async def _database(clients):
    await clients.store.ping()
    return HEALTHY, None, None


async def _vector_db(clients):
    return HEALTHY, None, await retrieval.describe_collection(clients)


async def _openai(clients):
    if clients.openai is None:
        return DISABLED, None, None
    guard = clients.guards
    if guard.budget.exhausted:
        return UNHEALTHY, f"the daily token budget is spent: answers are extractive for {guard.budget.resets_in()} s", None
    if guard.openai.state == OPEN:
        return UNHEALTHY, f"left alone after failing: {guard.openai.describe()}", None
    await clients.openai.models.list()
    return HEALTHY, None, None


def _collection_problem(collection: retrieval.Collection | None, clients) -> str | None:
    if is_empty(collection):
        return f"collection {clients.config.qdrant_collection_name} is empty: index the book with python -m lib.ingest"
    return retrieval.dense_mismatch(collection, clients.config)


async def _report(clients) -> Reply:
    indexing = clients.indexing
    (db, db_error, _), (vec, vec_error, collection), (ai, ai_error, _) = await asyncio.gather(
        _timed(_database(clients), "the database"),
        _timed(_vector_db(clients), "the vector store"),
        _timed(_openai(clients), "the OpenAI API"),
    )
    # Until the book's chunks are in, the service is getting ready rather than unwell.
    starting = indexing is not None and indexing.phase in _GETTING_READY and is_empty(collection)
    errors = {
        name: error
        for name, error in (("database", db_error), ("vector_db", vec_error), ("openai_api", ai_error))
        if error
    }
    if vec == HEALTHY:
        problem = _collection_problem(collection, clients)
        if problem and not indexing:
            errors["collection"] = problem
    if starting and vec == HEALTHY:
        status = STARTING  # 200: monitors and the Space see a service that is up and getting ready
    elif vec != HEALTHY or "collection" in errors:
        status = UNHEALTHY
    elif db != HEALTHY or ai != HEALTHY:
        status = "degraded"
    else:
        status = HEALTHY
    body = {
        "status": status,
        "services": {"database": db, "vector_db": vec, "openai_api": ai},
        "collection": {
            "name": clients.config.qdrant_collection_name,
            "points": collection.points if collection else 0,
            "dense_size": collection.dense_size if collection else None,
            "embedded": collection.dense_points if collection else 0,
        },
        "version": __version__,
    }
    if indexing:
        body["indexing"] = indexing.to_dict()
    body["caches"] = clients.caches.stats()  # as of this report
    # Answers the log has written, failed to write, or dropped because it fell behind.
    body["answer_log"] = await clients.store.stats()
    if errors:
        body["errors"] = errors
    return Reply(body=body, status=503 if status == UNHEALTHY else 200, headers={"Cache-Control": "no-store"})


async def handle(request: HealthRequest, clients: Clients) -> Reply:
    """The report, cached for a few seconds so that monitors can't hammer the dependencies.

    Requests that arrive while the checks run wait for the same report.
    """
    report, _ = await clients.caches.health.get_or_compute("report", lambda: _report(clients))
    return report
