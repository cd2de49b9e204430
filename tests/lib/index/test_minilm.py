"""lib/index/minilm.py: all-MiniLM-L6-v2 with numpy alone, on the model's own files, checked by their hashes.

Its outputs were compared with the torch reference once (0.99999988 the lowest cosine over 200 texts);
torch is not installed here, so these tests check what can be checked without it: the files, the shape
and scale of the vectors, order, truncation, and that meaning, not words, decides the nearest text.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lib.index import minilm
from lib.index.embedding import EmbeddingFailed, LocalEmbedder


@pytest.fixture(scope="module")
def model() -> minilm.MiniLM:
    return minilm.MiniLM.load()


def test_gives_one_unit_vector_of_384_floats_a_text_in_order(model):
    texts = ["a short one", "a much longer text about how a garden is watered in a dry summer", "", "ü ñ 日本"]
    together = model.embed(texts)
    alone = np.stack([model.embed([text])[0] for text in texts])
    assert together.shape == (4, 384) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.abs(together - alone).max() < 1e-5  # batching and sorting by length change nothing


def test_reads_no_more_than_256_wordpieces_of_a_text(model):
    head = " ".join(f"word{n}" for n in range(150))  # about 330 wordpieces: the model reads the first 256
    short = " ".join(f"word{n}" for n in range(100))  # about 220: all of it counts
    [one_tail, another_tail, whole] = model.embed([head + " and a tail" * 50, head + " with another tail" * 80, short])
    assert np.allclose(one_tail, another_tail, atol=1e-6) and not np.allclose(one_tail, whole, atol=1e-3)


@pytest.mark.parametrize(
    "question, answer, same_words",
    [
        ("How can I make my website load faster?", "Compress images and cache static files to speed up page loads.",
         "How can I make my own website from scratch?"),
        ("What should I feed a puppy?", "Young dogs need food made for growing dogs, several small meals a day.",
         "What should I feed a sourdough starter?"),
    ],
)
def test_an_answer_in_other_words_is_nearer_than_a_question_sharing_the_words(model, question, answer, same_words):
    asked, answering, alike = model.embed([question, answer, same_words])
    assert float(asked @ answering) > float(asked @ alike) + 0.1


def spoiled(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(minilm.model_folder(), folder)
    with open(folder / "model.safetensors", "r+b") as weights:
        weights.seek(4096)
        weights.write(b"\0" * 16)
    return folder


def test_refuses_files_that_are_not_the_models(tmp_path):
    with pytest.raises(minilm.ModelMissing, match="sha256"):
        minilm.MiniLM.load(spoiled(tmp_path))


@pytest.mark.anyio
async def test_the_service_s_embedder_reports_spoiled_files_as_a_failed_embedding_it_can_fall_back_from(tmp_path):
    with pytest.raises(EmbeddingFailed, match="sha256"):
        await LocalEmbedder(spoiled(tmp_path)).embed(["How do I deploy?"])
