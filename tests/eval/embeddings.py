"""all-MiniLM-L6-v2's vectors kept between test sessions, so that the quality bar embeds each book once a machine.

`Remembering` wraps the real local embedder: a text it has embedded before (with the same model files and the
same lib/index/minilm.py) gets the vector the model gave it then, byte for byte; any other text goes to the
model. The vectors live in one file under tests/artifacts.py ARTIFACTS, outside the repository.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from pathlib import Path
from typing import Sequence

import numpy as np

from lib.index import minilm
from lib.index.embedding import LocalEmbedder
from tests.artifacts import ARTIFACTS

STORE = ARTIFACTS / "embeddings" / "all-MiniLM-L6-v2.npz"


def _version() -> bytes:
    """What the vectors depend on: the model's files and the code that runs them."""
    code = Path(minilm.__file__).read_bytes()
    return "".join(sorted(minilm.SHA256.values())).encode() + hashlib.sha256(code).digest()


class Remembering:
    """An Embedder (lib/index/embedding.py) that answers from the vectors the local model gave before."""

    remote = False

    def __init__(self, inner: LocalEmbedder | None = None, path: Path = STORE):
        self._inner = inner or LocalEmbedder()
        self.model, self.size = self._inner.model, self._inner.size
        self._path = path
        self._salt = _version()
        self._known: dict[bytes, array] = {}
        self.computed = 0  # texts the model embedded in this session
        if path.exists():
            stored = np.load(path)
            self._known = {key.tobytes(): array("f", row.tobytes()) for key, row in zip(stored["keys"], stored["vectors"])}

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + text.encode()).digest()

    async def embed(self, texts: Sequence[str]) -> list[array]:
        unknown = list(dict.fromkeys(text for text in texts if self._key(text) not in self._known))
        if unknown:
            for text, vector in zip(unknown, await self._inner.embed(unknown)):
                self._known[self._key(text)] = vector
            self.computed += len(unknown)
        return [self._known[self._key(text)] for text in texts]

    def save(self) -> None:
        if not self.computed:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(self._known), dtype=np.uint8).reshape(len(self._known), 32)
        vectors = np.stack([np.frombuffer(vector.tobytes(), dtype=np.float32) for vector in self._known.values()])
        partial = self._path.with_suffix(f".{os.getpid()}.partial.npz")  # test workers may save at once
        np.savez(partial, keys=keys, vectors=vectors)
        partial.replace(self._path)

    async def close(self) -> None:
        await self._inner.close()
