"""An OpenAI-compatible HTTP server on loopback, so tests can drive the real SDK.

`FakeOpenAI` serves a bare ASGI app with uvicorn on 127.0.0.1, in a background
thread with its own event loop. It answers `GET /v1/models`,
`POST /v1/embeddings` and `POST /v1/chat/completions` in the shapes OpenAI's
API returns, records every request, and can be told to fail, to stall, to
answer with broken JSON or to cut a stream short. All waiting is
`asyncio.sleep`, so a thousand slow requests can be in flight at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import uvicorn

DEFAULT_MODELS = ("gpt-4o-mini", "text-embedding-3-small")
DEFAULT_DIMENSIONS = 64
DEFAULT_REPLY = "According to the first source, the answer is in the documentation [1]."

Reply = str | Callable[[dict], str]

_HOST = "127.0.0.1"
# The benchmark opens a thousand connections at once; the kernel caps this at somaxconn.
_BACKLOG = 4096
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_MODELS_CREATED = 1_700_000_000
_MAX_DIMENSIONS = 8192
_WORD = re.compile(r"\w+")
_DELTA = re.compile(r"\s*\S+")
_MALFORMED_JSON = b'{"id": "malformed", "object": "chat.completion", "choices": [{"index": 0,'

_ERRORS = {
    400: ("invalid_request_error", None, "The request was invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Access denied."),
    404: ("invalid_request_error", None, "The resource was not found."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def embed(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """Embeds text as a signed, hashed bag of its lowercase words, L2-normalised.

    Texts that share words point the same way, so cosine similarity means
    something. Values are rounded to float32, as the API's are, so the float
    and base64 encodings of one text decode to the same numbers.
    """
    vector = [0.0] * dimensions
    for word in _words(text) or [text]:
        index, sign = _slot(word, dimensions)
        vector[index] += sign
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:
        # Words whose slots cancel out still need a direction of their own.
        index, sign = _slot(text, dimensions)
        vector[index], norm = sign, 1.0
    return _as_float32([value / norm for value in vector])


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 that tests configure and inspect.

    Settings read on every request, so a test may change them at any time:
    `reply` (a string, or a callable given the request body that returns one),
    `rewrite` (the same, for the service's follow-up rewrite: a chat request
    whose user message holds a <conversation> and a <question>; by default the
    question comes back unchanged, as a model returns one that stands on its
    own; a callable `reply` answers these too),
    `token_delay` (seconds between streamed deltas) and `latency` (seconds
    before answering: a number for every path, or a mapping from a path suffix
    such as "chat/completions" to seconds).
    """

    def __init__(
        self,
        *,
        models: tuple[str, ...] = DEFAULT_MODELS,
        dimensions: int = DEFAULT_DIMENSIONS,
        reply: Reply = DEFAULT_REPLY,
        token_delay: float = 0.0,
        latency: float | Mapping[str, float] = 0.0,
    ) -> None:
        self.models = tuple(models)
        self.dimensions = dimensions
        self._defaults = (reply, token_delay, latency)
        self.reply: Reply = reply
        self.rewrite: Reply | None = None
        self.token_delay = token_delay
        self.latency: float | Mapping[str, float] = latency
        self._lock = threading.Lock()
        self._requests: list[tuple[str, dict]] = []
        self._disconnects = 0
        self._faults: list[_Fault] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # Lifecycle

    def start(self) -> FakeOpenAI:
        """Starts serving on a free port and returns once the server accepts requests."""
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already running")
        _quiet_deliberate_cuts()
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it Nagle's algorithm adds 40 ms to every keep-alive response.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, 0))
        listener.listen(_BACKLOG)
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            backlog=_BACKLOG,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._port = listener.getsockname()[1]
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._server.serve(sockets=[listener]),),
            name=f"fake-openai-{self._port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_started()
        return self

    def stop(self) -> None:
        """Stops the server and waits for its thread; in-flight requests get a second to finish."""
        if self._thread is None or self._server is None:
            return
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(_STOP_TIMEOUT)
        self._thread = self._server = self._port = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to hand the SDK, e.g. "http://127.0.0.1:54321/v1"."""
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return f"http://{_HOST}:{self._port}/v1"

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                self._thread = self._server = self._port = None
                raise RuntimeError("FakeOpenAI did not start")
            time.sleep(0.005)

    # What happened

    @property
    def requests(self) -> list[tuple[str, dict]]:
        """Every request so far as (path, JSON body); a GET or an unparsable body records {}."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        """How many clients went away before their answer was complete."""
        with self._lock:
            return self._disconnects

    def calls(self, path_suffix: str) -> list[dict]:
        """The bodies of the requests whose path ends with path_suffix, e.g. "chat/completions"."""
        return [body for path, body in self.requests if _path_matches(path_suffix, path)]

    def reset(self) -> None:
        """Forgets requests, disconnects and pending faults, and restores the constructor's settings."""
        with self._lock:
            self._requests.clear()
            self._disconnects = 0
            self._faults.clear()
        self.reply, self.token_delay, self.latency = self._defaults
        self.rewrite = None

    # Fault injection

    def fail_next(
        self,
        status: int = 429,
        *,
        times: int = 1,
        path: str | None = None,
        message: str | None = None,
        retry_after: float = 0.01,
    ) -> None:
        """Answers the next `times` requests on `path` (a suffix; None for any) with an OpenAI error.

        A 429 carries `retry-after` and `retry-after-ms` headers; `retry_after`
        is small by default so an SDK that retries does so quickly.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error from 400 to 599, got {status}")
        self._add_fault(
            _Fault("fail", path, times, status=status, message=message, retry_after=retry_after)
        )

    def malformed_next(self, *, times: int = 1, path: str | None = None) -> None:
        """Answers the next `times` requests on `path` with a 200 whose body is not valid JSON."""
        self._add_fault(_Fault("malformed", path, times))

    def cut_stream_after(self, n_deltas: int, *, times: int = 1) -> None:
        """Closes the connection of the next streamed chat completion after n_deltas content deltas.

        The role chunk that opens every stream comes first and is not counted;
        no finish chunk and no [DONE] are sent.
        """
        self._add_fault(_Fault("cut", "chat/completions", times, deltas=n_deltas))

    def _add_fault(self, fault: _Fault) -> None:
        if fault.times < 1:
            raise ValueError(f"times must be at least 1, got {fault.times}")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str, streaming: bool) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if _path_matches(fault.path, path) and (fault.kind != "cut" or streaming):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # The ASGI app

    async def _asgi(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        body = _parse_object(await _read_body(receive))
        with self._lock:
            self._requests.append((path, body if body is not None else {}))
        endpoint = self._endpoint(method, path)
        if endpoint is None:
            await _send_json(send, 404, _error_body(404, f"Invalid URL ({method} {path})"))
            return
        if method == "POST" and body is None:
            message = "We could not parse the JSON body of your request. Please send a JSON object."
            await _send_json(send, 400, _error_body(400, message))
            return
        streaming = body is not None and body.get("stream") is True
        fault = self._take_fault(path, streaming)
        client = _ClientWatch(receive)
        try:
            if await client.went_away_within(self._latency_for(path)):
                self._count_disconnect()
            elif fault is not None and fault.kind == "fail":
                await _send_failure(send, fault)
            elif fault is not None and fault.kind == "malformed":
                await _send_malformed(send, streaming)
            else:
                cut_after = fault.deltas if fault is not None else None
                await endpoint(body or {}, send, client, cut_after)
        finally:
            client.stop()

    def _endpoint(self, method: str, path: str) -> Callable | None:
        routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/chat/completions"): self._chat_completions,
        }
        return routes.get((method, path.rstrip("/")))

    def _latency_for(self, path: str) -> float:
        latency = self.latency
        if isinstance(latency, Mapping):
            return next((s for suffix, s in latency.items() if _path_matches(suffix, path)), 0.0)
        return latency

    def _count_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1

    async def _models(self, body: dict, send: Callable, client: _ClientWatch, cut_after: int | None) -> None:
        models = [
            {"id": model, "object": "model", "created": _MODELS_CREATED, "owned_by": "system"}
            for model in self.models
        ]
        await _send_json(send, 200, {"object": "list", "data": models})

    async def _embeddings(self, body: dict, send: Callable, client: _ClientWatch, cut_after: int | None) -> None:
        texts = _embedding_texts(body.get("input"))
        dimensions = body.get("dimensions", self.dimensions)
        encoding = body.get("encoding_format", "float")
        problem = _embedding_problem(texts, dimensions, encoding)
        if problem is not None:
            await _send_json(send, 400, _error_body(400, problem))
            return
        data = [
            {"object": "embedding", "index": index, "embedding": _encode(embed(text, dimensions), encoding)}
            for index, text in enumerate(texts)
        ]
        tokens = sum(_count_words(text) for text in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await _send_json(send, 200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def _chat_completions(
        self, body: dict, send: Callable, client: _ClientWatch, cut_after: int | None
    ) -> None:
        reply = str(self._reply_for(body))
        prompt_tokens = sum(_count_words(_message_text(m)) for m in body.get("messages") or [])
        completion_tokens = _count_words(reply)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        identity = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body.get("model"),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        if body.get("stream") is True:
            await self._stream_chat(body, send, client, cut_after, identity, reply, usage)
            return
        message = {"role": "assistant", "content": reply, "refusal": None, "annotations": []}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        completion = {**identity, "object": "chat.completion", "choices": [choice], "usage": usage}
        await _send_json(send, 200, completion)

    def _reply_for(self, body: dict) -> str:
        if callable(self.reply):
            return self.reply(body)
        question = _rewrite_question(body)
        if question is None:
            return self.reply
        if self.rewrite is None:
            return question
        return self.rewrite(body) if callable(self.rewrite) else self.rewrite

    async def _stream_chat(
        self,
        body: dict,
        send: Callable,
        client: _ClientWatch,
        cut_after: int | None,
        identity: dict,
        reply: str,
        usage: dict,
    ) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            payload = {**identity, "object": "chat.completion.chunk", "choices": [choice]}
            if include_usage:
                payload["usage"] = None
            return _sse(payload)

        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await _send_body(send, chunk({"role": "assistant", "content": "", "refusal": None}))
        for sent, delta in enumerate(_split_deltas(reply)):
            if cut_after is not None and sent >= cut_after:
                raise _DeliberateCut()
            if await client.went_away_within(self.token_delay):
                self._count_disconnect()
                return
            await _send_body(send, chunk({"content": delta}))
        if cut_after is not None:
            raise _DeliberateCut()
        await _send_body(send, chunk({}, finish_reason="stop"))
        if include_usage:
            await _send_body(send, _sse({**identity, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        await _send_body(send, b"data: [DONE]\n\n", more_body=False)


@dataclass
class _Fault:
    kind: str  # "fail", "malformed" or "cut"
    path: str | None
    times: int
    status: int = 0
    message: str | None = None
    retry_after: float = 0.0
    deltas: int = 0


class _DeliberateCut(Exception):
    """Raised inside the app to make uvicorn drop a streaming connection mid-body."""


class _QuietDeliberateCuts(logging.Filter):
    """Keeps uvicorn's error log free of the cuts a test asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _DeliberateCut))


def _quiet_deliberate_cuts() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDeliberateCuts) for f in logger.filters):
        logger.addFilter(_QuietDeliberateCuts())


class _ClientWatch:
    """Notices a client going away by waiting for ASGI's `http.disconnect`.

    uvicorn silently drops what is sent to a client that has gone, so waiting
    on receive() is the only way to learn of it.
    """

    def __init__(self, receive: Callable) -> None:
        self._gone = asyncio.Event()
        self._task = asyncio.create_task(self._watch(receive))

    async def _watch(self, receive: Callable) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone.set()

    async def went_away_within(self, seconds: float) -> bool:
        """Waits up to `seconds` and says whether the client has gone."""
        if seconds <= 0:
            await asyncio.sleep(0)  # let a thousand concurrent streams take turns
        else:
            try:
                await asyncio.wait_for(self._gone.wait(), seconds)
            except TimeoutError:
                pass
        return self._gone.is_set()

    def stop(self) -> None:
        # Completing a response also wakes receive() with http.disconnect; that is not the client leaving.
        self._task.cancel()


_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_body(send: Callable, body: bytes, *, more_body: bool = True) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more_body})


async def _send_json(send: Callable, status: int, payload: dict, headers: list | None = None) -> None:
    await _send_raw(send, status, json.dumps(payload).encode(), headers)


async def _send_raw(send: Callable, status: int, body: bytes, headers: list | None = None) -> None:
    length = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS + length + (headers or [])})
    await _send_body(send, body, more_body=False)


async def _send_failure(send: Callable, fault: _Fault) -> None:
    headers = []
    if fault.status == 429:
        headers = [
            (b"retry-after", str(max(1, math.ceil(fault.retry_after))).encode()),
            (b"retry-after-ms", str(round(fault.retry_after * 1000)).encode()),
        ]
    await _send_json(send, fault.status, _error_body(fault.status, fault.message), headers)


async def _send_malformed(send: Callable, streaming: bool) -> None:
    if not streaming:
        await _send_raw(send, 200, _MALFORMED_JSON)
        return
    await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
    await _send_body(send, b"data: " + _MALFORMED_JSON + b"\n\n", more_body=False)


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _error_body(status: int, message: str | None = None) -> dict:
    kind, code, default = _ERRORS.get(status) or _fallback_error(status)
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def _fallback_error(status: int) -> tuple[str, None, str]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    try:
        return kind, None, HTTPStatus(status).phrase
    except ValueError:
        return kind, None, f"Error {status}"


def _parse_object(raw: bytes) -> dict | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _path_matches(suffix: str | None, path: str) -> bool:
    if suffix is None:
        return True
    return path.rstrip("/").endswith("/" + suffix.strip("/"))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _count_words(text: str) -> int:
    return len(_words(text))


def _slot(token: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    index = int.from_bytes(digest[:4], "little") % dimensions
    return index, 1.0 if digest[4] & 1 else -1.0


def _as_float32(vector: list[float]) -> list[float]:
    layout = f"<{len(vector)}f"
    return list(struct.unpack(layout, struct.pack(layout, *vector)))


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def _embedding_texts(value: Any) -> list[str] | None:
    """The texts to embed: a string, a list of strings, or token arrays read as their str."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    if all(isinstance(item, str) for item in value):
        return list(value)
    if all(isinstance(item, list) and all(isinstance(i, int) for i in item) for item in value):
        return [" ".join(map(str, item)) for item in value]
    return None


def _embedding_problem(texts: list[str] | None, dimensions: Any, encoding: Any) -> str | None:
    if texts is None:
        return "'input' must be a string, a list of strings, or token arrays, and not empty."
    if any(not text.strip() for text in texts):
        return "'input' cannot contain an empty string."
    if not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= _MAX_DIMENSIONS:
        return f"'dimensions' must be an integer from 1 to {_MAX_DIMENSIONS}, got {dimensions!r}."
    if encoding not in ("float", "base64"):
        return f"'encoding_format' must be 'float' or 'base64', got {encoding!r}."
    return None


def _message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


_QUESTION = re.compile(r"<question>\n?(.*?)\n?</question>", re.S)


def _rewrite_question(body: dict) -> str | None:
    """The question of a follow-up rewrite request (a user message with a conversation and a question), or None."""
    messages = body.get("messages") or []
    user = _message_text(messages[-1]) if messages else ""
    found = _QUESTION.search(user)
    if "<conversation>" not in user or found is None:
        return None
    return found.group(1).replace("<\\/", "</").strip()


def _split_deltas(reply: str) -> list[str]:
    """Splits a reply into word-sized deltas that join back to exactly the reply."""
    deltas = _DELTA.findall(reply)
    rest = reply[len("".join(deltas)):]
    if rest:
        deltas.append(rest)
    return deltas
