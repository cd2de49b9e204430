"""The floor: a bare ASGI app, no framework, that reads the request and answers a JSON of a given size.

    uvicorn tests.perf.floor_app:app   (FLOOR_BYTES sets the size of the answer; default 2,000)

Whatever a framework, a handler and a cache add comes on top of this: the
same server, the same driver, a body read and a JSON serialised per request.
"""

from __future__ import annotations

import json
import os

SIZE = int(os.environ.get("FLOOR_BYTES", "2000"))
_SHAPE = {"id": "ans_" + "0" * 32, "answer": "", "cached": True, "request_id": "0" * 32}
_PADDING = max(0, SIZE - len(json.dumps(_SHAPE)))
_DOCUMENT = {**_SHAPE, "answer": "x" * _PADDING}
_HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = json.dumps(_DOCUMENT).encode()
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
