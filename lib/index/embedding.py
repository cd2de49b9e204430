"""Dense embeddings of chunks and questions: from OpenAI's API (or any server that speaks it), or from
all-MiniLM-L6-v2 running in this process (lib/index/minilm.py), with no key and no network.

EMBEDDINGS chooses: `auto` (the default: the API when OPENAI_API_KEY or OPENAI_BASE_URL is set, else the
local model), `openai`, `local`, or `none` (sparse search alone).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from array import array
from pathlib import Path
from typing import Callable, Protocol, Sequence

import httpx2
import openai

from lib.config import LOCAL_MODEL, Config

log = logging.getLogger("bookbot")

# The sizes of OpenAI's models, so that a collection can be made before the API has answered once.
KNOWN_SIZES = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class EmbeddingFailed(Exception):
    """Raised when the embedding model can't embed now (the API is down, slow or refuses the key)."""


class Embedder(Protocol):
    model: str  # recorded with the collection: a question must be embedded by the model its chunks were
    size: int | None  # known before the first call, or learnt from it
    remote: bool  # calls leave the process: they get a breaker, a timeout, and several batches in flight

    async def embed(self, texts: Sequence[str]) -> list[array]:
        """One float32 vector a text, in order; EmbeddingFailed when it can't."""

    async def close(self) -> None: ...


class OpenAIEmbedder:
    """Embeddings from the API; the SDK retries 429 and 5xx with backoff within its own limits."""

    remote = True

    def __init__(
        self, client: openai.AsyncOpenAI, model: str, on_usage: Callable[[str, int], None] | None = None, *, known_size: bool = True
    ):
        self._client = client
        self._on_usage = on_usage
        self.model = model
        self.size = KNOWN_SIZES.get(model) if known_size else None

    async def embed(self, texts: Sequence[str]) -> list[array]:
        # The SDK's own call and its retries, but not its models: building them walks every float of every
        # vector, which costs more than the call. The vectors come as base64 float32, as the SDK asks too.
        body = {"model": self.model, "input": list(texts), "encoding_format": "base64"}
        try:
            response = (await self._client.post("/embeddings", body=body, cast_to=httpx2.Response)).json()
            data = sorted(response["data"], key=lambda item: item["index"])
            vectors = [array("f", base64.b64decode(item["embedding"])) for item in data]
        except (openai.OpenAIError, TimeoutError) as error:
            raise EmbeddingFailed(str(error) or type(error).__name__) from None
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingFailed(f"the API's answer could not be read ({type(error).__name__})") from None
        usage = response.get("usage") or {}
        if self._on_usage is not None and usage.get("prompt_tokens"):
            self._on_usage(self.model, usage["prompt_tokens"])
        if len(vectors) != len(texts):
            raise EmbeddingFailed(f"the API gave {len(vectors)} embeddings for {len(texts)} texts")
        self.size = len(vectors[0]) if vectors else self.size
        return vectors

    async def close(self) -> None:
        """The client is the pool's, which closes it."""


class LocalEmbedder:
    """all-MiniLM-L6-v2 in a worker thread (numpy lets go of the GIL while it multiplies), loaded on first use."""

    remote = False
    model = LOCAL_MODEL

    def __init__(self, folder: Path | None = None):
        from lib.index import minilm

        self.size = minilm.DIMENSIONS
        self._folder = folder  # None: the installed package's
        self._model = None
        self._loading = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> list[array]:
        from lib.index import minilm

        async with self._loading:
            if self._model is None:
                try:
                    self._model = await asyncio.to_thread(minilm.MiniLM.load, self._folder)
                except (minilm.ModelMissing, OSError) as error:  # its files changed or went since start-up
                    raise EmbeddingFailed(f"the local model could not be loaded: {error}") from None
        matrix = await asyncio.to_thread(self._model.embed, list(texts))
        return [array("f", row.tobytes()) for row in matrix]

    async def close(self) -> None:
        self._model = None


async def learn_size(embedder: Embedder) -> int:
    """The size of the model's embeddings, asking the model once when it is not known beforehand; raises
    EmbeddingFailed when the model can't tell now."""
    if embedder.size is None:
        await embedder.embed(["dimension probe"])
    return embedder.size


def open_embedder(config: Config, client: openai.AsyncOpenAI | None, on_usage=None) -> Embedder | None:
    """The configured embedder, or None for sparse search alone (said in the log when the local model's
    files are missing)."""
    if config.embedding_source == "local":
        from lib.index import minilm

        try:
            minilm.model_folder()
        except minilm.ModelMissing as error:
            log.warning("%s", error)
            return None
        return LocalEmbedder()
    if config.embedding_source == "openai" and client is not None:
        # Another server that speaks the API may serve a model of the same name with embeddings of another size.
        return OpenAIEmbedder(client, config.openai_embedding_model, on_usage, known_size=config.openai_base_url is None)
    return None
