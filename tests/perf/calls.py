"""Where a query's CPU goes: each upstream call a miss makes, then a miss and a cache hit whole, in-process.

    python -m tests.perf.calls            # 300 calls of each
    python -m tests.perf.calls --calls 20

The benchmark (tests/perf/bench.py) says how much CPU the server spends per
request; this says on what. It runs the service's own client pool against
the benchmark's fake OpenAI and fake Qdrant (processes of their own, so their
work is not counted) and prints the CPU time this process spends per call:
the official SDKs' calls one by one, the service's retrieval and whole
handler on a miss, and a cache hit through the whole ASGI app without
sockets (and without the access log: LOG_LEVEL is WARNING here). Calls run
one after another; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid

from tests.perf.book import QUESTION
from tests.perf.upstreams import Upstream


async def cpu_per_call(label: str, call, calls: int) -> float:
    for _ in range(min(10, calls)):  # connections opened, caches of the clients warm
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    spent = (time.process_time() - started) / calls * 1000
    print(f"  {label:58} {spent:6.2f} ms")
    return spent


async def measure(calls: int) -> None:
    from handlers import query
    from lib.answer import compose, retrieval
    from lib.clients import open_clients
    from lib.config import Config
    from lib.index import sparse

    clients = await open_clients(Config.from_environ())
    try:
        collection = await retrieval.describe_collection(clients)
        vector = await retrieval.embed_question(clients, QUESTION)
        plan = await compose.prepare(clients, collection, query=QUESTION)
        terms = sparse.query_vector(QUESTION)

        def fused():
            return clients.vectors.search(limit=5, dense=vector, sparse=terms, depth=20, with_dense=True)

        hits = await fused()

        async def cosines():
            return retrieval.cosines(vector, [hit.dense for hit in hits])

        async def miss():
            reply = await query.handle(query.QueryRequest.from_json({"query": f"{QUESTION} {uuid.uuid4().hex}"}), clients)
            assert reply.status == 200 and reply.body["answerable"], reply.body

        print("client CPU per call, in this process:")
        sdk = clients.openai  # the SDK itself, under the service's embedding cache
        await cpu_per_call("OpenAI SDK: embeddings.create, one question", lambda: sdk.embeddings.create(
            model=clients.config.openai_embedding_model, input=[f"{QUESTION} {uuid.uuid4().hex}"]), calls)
        await cpu_per_call("OpenAI SDK: chat.completions.create, the answer's prompt", lambda: sdk.chat.completions.create(
            model=clients.config.openai_generation_model, messages=plan.messages), calls)
        await cpu_per_call("qdrant-client: query_points, fused, 5 hits with vectors", fused, calls)
        await cpu_per_call("the 5 hits' cosines (1,536 dimensions)", cosines, calls)
        await cpu_per_call("lib.answer.retrieval.search: embed, query, cosines", lambda: retrieval.search(
            clients, f"{QUESTION} {uuid.uuid4().hex}", 5, collection), calls)
        await cpu_per_call("handlers.query.handle: a whole miss (answer log included)", miss, calls)
    finally:
        await clients.aclose()


async def cache_hits(calls: int) -> None:
    """A cache hit through the ASGI app, lifespan and all, with no socket in the way."""
    import router

    body = json.dumps({"query": QUESTION}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/query", "raw_path": b"/v1/query", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def ask() -> list[dict]:
        sent = []

        async def send(message):
            sent.append(message)

        await router.app(scope, receive, send)
        return sent

    async def hit():
        sent = await ask()
        assert sent[0]["status"] == 200 and b'"cached": true' in sent[1]["body"], sent

    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(router.app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        await ask()  # a miss, which the cache keeps
        await cpu_per_call("a cache hit through the ASGI app, no sockets", hit, calls)
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.calls", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="of each kind (default 300)")
    args = parser.parse_args(argv)
    openai, qdrant = Upstream("openai", 1536), Upstream("qdrant", 1536)
    with tempfile.TemporaryDirectory(prefix="calls-") as data:
        os.environ.update({
            "OPENAI_BASE_URL": openai.url, "OPENAI_API_KEY": "sk-bench", "QDRANT_URL": qdrant.url, "DATA_DIR": data,
            "DATABASE_URL": f"sqlite:///{data}/bookbot.db", "INDEX_ON_START": "false", "LOG_LEVEL": "WARNING",
            "ANSWER_CACHE_SECONDS": "600", "RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_DAY": "0", "DAILY_TOKEN_BUDGET": "0",
        })
        try:
            asyncio.run(measure(args.calls))
            asyncio.run(cache_hits(args.calls))
        finally:
            openai.close()
            qdrant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
