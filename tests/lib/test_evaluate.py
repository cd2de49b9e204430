"""lib/evaluate.py: cases, figures, and runs through the service's own path on the bundled book."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lib import evaluate
from lib.answer import refusal, retrieval
from lib.evaluate import Answered, Case, CaseError, Outcome
from tests.parts import pool

REPO = Path(__file__).resolve().parents[2]


def passage(url: str, score: float = 0.5, chunk_id: str = "c") -> retrieval.Passage:
    return retrieval.Passage(chunk_id=chunk_id, title="T", section="S", url=url, text="", score=score)


def outcome(case: Case, ranked=(), top=0.5, refused=False, text="", sources=()) -> Outcome:
    answered = Answered("low_score" if refused else None, (passage("/x", top),), tuple(sources), text)
    return Outcome(case=case, expected=case.expected_url, ranked=tuple(ranked), answered=answered)


# Cases


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/docs/api/#routes", "/docs/api#routes"),
        ("/docs/api#routes", "/docs/api#routes"),
        ("/docs/api/", "/docs/api"),
        ("/docs/intro#", "/docs/intro"),
        (" /docs/intro ", "/docs/intro"),
        ("/", "/"),
    ],
)
def test_normalises_a_trailing_slash_before_the_anchor(url, expected):
    assert evaluate.normalise_url(url) == expected


def test_reads_each_kind_of_case():
    lines = [
        '{"query": "Which route serves the OpenAPI document?", "expected_url": "/docs/api/#routes", "note": "n"}',
        "",
        '{"query": "Where do I copy it on Neon?", "source": "deploy/external-services.md", "heading": "Neon"}',
        '{"query": "How do I bake sourdough bread?", "answerable": false}',
        '{"query": "Why?", "retrieved": ["a", "b"], "reason": "wrong", "comment": null, "answer_id": "x", "feedback_id": "y"}',
        '{"query": "Why not?", "retrieved": ["a"], "reason": "wrong", "expected_url": "/docs/intro"}',
    ]
    cases = evaluate.read_cases(lines)
    assert [case.kind for case in cases] == ["labelled", "labelled", "unanswerable", "feedback", "labelled"]
    assert cases[0].expected_url == "/docs/api#routes" and cases[0].line == 1
    assert (cases[1].source, cases[1].heading, cases[1].line) == ("deploy/external-services.md", "Neon", 3)
    assert cases[3].retrieved == ("a", "b") and cases[3].reason == "wrong"
    assert cases[4].retrieved == ("a",)


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "line 1: not JSON"),
        ("[1, 2]", "line 1: a case must be a JSON object"),
        ('{"query": "  "}', "query must be a non-empty string"),
        ('{"query": "q"}', "an answerable case needs expected_url"),
        ('{"query": "q", "expected_url": "docs/intro"}', "expected_url must be a route"),
        ('{"query": "q", "source": "intro.md"}', "source and heading go together"),
        ('{"query": "q", "answerable": "no"}', "answerable must be true or false"),
        ('{"query": "q", "retrieved": "abc"}', "retrieved must be a list of chunk ids"),
    ],
)
def test_names_the_line_of_a_bad_case(line, message):
    with pytest.raises(CaseError, match=message):
        evaluate.read_cases([line])


def test_leaves_follow_ups_out_and_counts_refusals_by_kind():
    lines = [
        '{"query": "a", "expected_url": "/docs/a#b", "kind": "answerable"}',
        '{"query": "b", "expected_url": "/docs/a#c"}',
        '{"query": "n1", "answerable": false, "kind": "near_miss"}',
        '{"query": "n2", "answerable": false, "kind": "near_miss"}',
        '{"query": "o", "answerable": false, "kind": "off_topic"}',
        '{"query": "f", "expected_url": "/docs/a", "kind": "followup", "history": []}',
    ]
    cases = evaluate.read_cases(lines)
    assert [case.label for case in cases] == ["answerable", None, "near_miss", "near_miss", "off_topic", "followup"]
    a, b, n1, n2, o, _ = cases
    outcomes = [
        outcome(a, ["/docs/a#x", "/docs/a#b"]),  # the right page first, the right section second
        outcome(b, ["/docs/c"], refused=True),
        outcome(n1, refused=True),
        outcome(n2),
        outcome(o, refused=True),
    ]
    assert [o.group for o in outcomes] == ["answerable", "answerable", "near_miss", "near_miss", "off_topic"]
    assert (outcomes[0].rank, outcomes[0].page_rank) == (2, 1)
    ranking = evaluate.ranking_figures(outcomes)
    assert (ranking["recall@1"], ranking["page_recall@1"], ranking["page_recall@5"]) == (0.0, 0.5, 0.5)
    figures = evaluate.refusal_figures(outcomes)
    assert figures["answerable_refused_share"] == 0.5
    assert (figures["near_miss_refused"], figures["near_miss_cases"]) == (0.5, 2)
    assert (figures["off_topic_refused"], figures["off_topic_cases"]) == (1.0, 1)


def test_fits_the_refusal_so_that_few_answerable_questions_score_below_the_cut():
    def case(n: int, answerable: bool, missing: float, lexical: float) -> Outcome:
        evidence = refusal.Evidence(mode="sparse", missing=missing, lexical=lexical)
        made = Case(f"q{n}", expected_url="/a") if answerable else Case(f"q{n}", answerable=False)
        return Outcome(made, "/a", ("/a",), Answered(None, (), evidence=evidence))

    outcomes = [case(n, True, 0.1 * (n % 3), 0.3 + 0.02 * n) for n in range(20)]
    outcomes += [case(20 + n, False, 0.5 + 0.05 * n, 0.1 + 0.02 * n) for n in range(8)]
    model = evaluate.fit_refusal(outcomes)
    assert model.missing < 0 < model.lexical and model.semantic == model.lift == 0.0
    scores = [model.relevance(o.answered.evidence.missing, o.answered.evidence.lexical) for o in outcomes]
    assert sum(score < refusal.ANSWER_CUT for score in scores[:20]) <= 1  # at most 5% of the answerable refused
    assert sum(score < refusal.ANSWER_CUT for score in scores[20:]) >= 6
    with pytest.raises(ValueError, match="answerable and unanswerable"):
        evaluate.fit_refusal(outcomes[:20])


def test_refuses_an_empty_file():
    with pytest.raises(CaseError, match="no cases"):
        evaluate.read_cases(["", "  "])


# Figures


def test_ranks_and_gains_follow_the_first_passage_of_the_labelled_section():
    case = Case("q", expected_url="/docs/a#b")
    assert outcome(case, ["/docs/a#b", "/docs/c"]).rank == 1
    assert outcome(case, ["/docs/c", "/docs/c", "/docs/a#b"]).rank == 3
    assert outcome(case, ["/docs/c"]).rank is None
    assert evaluate.reciprocal_rank(4) == 0.25 and evaluate.reciprocal_rank(None) == 0.0
    assert evaluate.ndcg(1) == 1.0 and evaluate.ndcg(3) == pytest.approx(0.5) and evaluate.ndcg(11) == 0.0


def test_ranking_figures_count_only_labelled_cases():
    first, third, missed = (Case(q, expected_url="/a") for q in "xyz")
    outcomes = [
        outcome(first, ["/a"]),
        outcome(third, ["/b", "/c", "/a"]),
        outcome(missed, ["/b"]),
        outcome(Case("u", answerable=False), ["/a"]),
        outcome(Case("f", retrieved=("c",)), ["/a"]),
    ]
    figures = evaluate.ranking_figures(outcomes)
    assert figures == {
        "cases": 3,
        "recall@1": 0.3333,
        "recall@5": 0.6667,
        "recall@10": 0.6667,
        "mrr": round((1 + 1 / 3) / 3, 4),
        "ndcg@10": round((1 + 0.5) / 3, 4),
        "page_recall@1": 0.3333,
        "page_recall@5": 0.6667,
    }


def test_refusals_are_the_positive_class():
    outcomes = [
        outcome(Case("a1", expected_url="/a"), refused=True),  # answerable, refused: a false refusal
        outcome(Case("a2", expected_url="/a")),
        outcome(Case("u1", answerable=False), refused=True),
        outcome(Case("u2", answerable=False), refused=True),
        outcome(Case("u3", answerable=False)),  # unanswerable, answered: a missed refusal
        outcome(Case("f", retrieved=("c",)), refused=True),  # answerability unknown: left out
    ]
    assert evaluate.refusal_figures(outcomes) == {
        "cases": 5,
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "answerable_refused": 1,
        "unanswerable_answered": 1,
        "answerable_refused_share": 0.5,
        "near_miss_refused": None,
        "near_miss_cases": 0,
        "off_topic_refused": None,
        "off_topic_cases": 0,
    }


def test_the_best_threshold_is_the_middle_of_the_widest_best_gap():
    scores = {"a1": 0.9, "a2": 0.6, "a3": 0.5, "u1": 0.1, "u2": 0.2, "u3": 0.55}
    outcomes = [
        outcome(Case(q, expected_url="/a") if q[0] == "a" else Case(q, answerable=False), top=top)
        for q, top in scores.items()
    ]
    best = evaluate.best_threshold(outcomes)
    # refusing below 0.5 keeps u3 (F1 0.8); below 0.6 also refuses a3 (F1 0.857): (0.55, 0.6] wins
    assert best["between"] == [0.55, 0.6]
    assert best["threshold"] == pytest.approx(0.57, abs=0.006)
    assert best["f1"] == pytest.approx(0.8571, abs=1e-4)
    assert (best["answerable_refused"], best["unanswerable_answered"]) == (1, 0)


def test_no_best_threshold_without_both_kinds_of_case():
    assert evaluate.best_threshold([outcome(Case("a", expected_url="/a"))]) is None
    assert evaluate.best_threshold([outcome(Case("u", answerable=False))]) is None


def test_citations_count_when_a_cited_source_is_the_labelled_section():
    case = Case("q", expected_url="/docs/a")
    sources = (passage("/docs/b"), passage("/docs/a/"))
    outcomes = [
        outcome(case, text="It does. [2]", sources=sources),
        outcome(case, text="First [1], then [2].", sources=sources),
        outcome(case, text="Elsewhere [1] and nowhere [7].", sources=sources),
        outcome(case, refused=True),
    ]
    assert outcomes[0].cited == ["/docs/a"]
    assert outcomes[2].cited == ["/docs/b"]
    assert evaluate.citation_figures(outcomes) == {
        "answered": 3,
        "cites_labelled": 0.6667,
        "first_citation_labelled": 0.3333,
    }


# Runs through the service's path


@pytest.mark.anyio
async def test_runs_cases_through_the_service_path(sparse_index, config_for):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        [neon] = await retrieval.search(clients, "Where do I copy the connection string on Neon?", 1, collection)
        cases = evaluate.read_cases(
            [
                '{"query": "Where do I copy the connection string on Neon?", "expected_url": "/docs/deploy/external-services#neon"}',
                '{"query": "Which route serves the OpenAPI document?", "source": "api/index.md", "heading": "Routes"}',
                '{"query": "What is the capital of Australia?", "answerable": false}',
                '{"query": "Where is it?", "expected_url": "/docs/no-such-page#nowhere"}',
                json.dumps({"query": "Where do I copy the connection string on Neon?", "retrieved": [neon.chunk_id, str(uuid.uuid4()), "ch-1"], "reason": "wrong"}),
            ]
        )
        run = await evaluate.evaluate(clients, cases, top_k=3)

    neon_case, routes, capital, unknown, rated = run.outcomes
    assert (run.mode, run.top_k, run.threshold) == ("sparse", 3, refusal.ANSWER_CUT)
    assert neon_case.rank == 1 and not neon_case.refused and neon_case.expected in neon_case.cited
    assert routes.expected == "/docs/api#routes" and routes.rank is not None
    assert capital.refused and capital.answered.refusal_reason in ("no_hits", "low_score")
    assert neon_case.answered.evidence.best >= refusal.ANSWER_CUT and neon_case.answered.evidence.missing < 0.5
    assert run.unknown_labels == (unknown.case,) and unknown.rank is None
    assert rated.still_retrieved == [neon.chunk_id] and len(rated.gone) == 2
    figures = run.figures()
    assert figures["ranking"]["cases"] == 3
    assert figures["feedback"] == {
        "cases": 1, "all_still_retrieved": 0, "some_still_retrieved": 1, "none_retrieved": 0,
        "chunks_gone_from_index": 2, "refused_now": 0,
    }
    assert json.loads(json.dumps(evaluate.run_json(run)))["cases"][0]["rank"] == 1


@pytest.mark.anyio
async def test_compares_modes_the_configuration_allows(dense_index, fake_openai):
    cases = evaluate.read_cases(
        [
            '{"query": "Where do I copy the connection string on Neon?", "expected_url": "/docs/deploy/external-services#neon"}',
            '{"query": "What is the capital of Australia?", "answerable": false}',
        ]
    )
    runs = await evaluate.compare(dense_index, cases, [str(dense_index.book_dir)], chunk_sizes=(250,), book="docs")
    assert [(run.chunk_size, run.mode, run.book) for run in runs] == [(250, "hybrid", "docs"), (250, "sparse", "docs")]
    assert runs[0].label == "hybrid (text-embedding-3-small) +LM" and runs[1].label == "sparse +LM"
    assert [run.outcomes[0].answered.evidence.mode for run in runs] == ["hybrid", "sparse"]
    assert all(run.threshold == refusal.MODEL_CUT for run in runs)  # a model is configured: it judges the rest
    for run in runs:  # each mode writes its answer as the service would in it
        assert run.figures()["citations"]["answered"] <= 1
    table = io.StringIO()
    evaluate.write_comparison(runs, table)
    assert table.getvalue().splitlines()[1].startswith("docs*") and "hybrid (text-embedding-3-small)" in table.getvalue()


# The command line


@pytest.fixture
def environ(sparse_index, tmp_path) -> dict[str, str]:
    data = tmp_path / "data"
    shutil.copytree(sparse_index.data_dir, data)
    keep = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "QDRANT_", "DATABASE_"))}
    return {**keep, "PYTHONPATH": str(REPO), "DATA_DIR": str(data)}


def run_cli(environ, *arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.evaluate", *arguments],
        cwd=REPO, env=environ, input=stdin, capture_output=True, text=True, timeout=60,
    )


def test_prints_json_for_machines(environ, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"query": "Where do I copy the connection string on Neon?", "expected_url": "/docs/deploy/external-services#neon"}\n'
        '{"query": "Who won the 2018 FIFA World Cup?", "answerable": false}\n'
    )
    done = run_cli(environ, str(cases), "--json", "--top-k", "3")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "sparse" and report["top_k"] == 3
    assert report["ranking"]["recall@1"] == 1.0
    assert report["refusals"]["recall"] == 1.0
    assert [case["kind"] for case in report["cases"]] == ["labelled", "unanswerable"]


def test_prints_a_table_for_people(environ, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"query": "Where do I copy the connection string on Neon?", "expected_url": "/docs/deploy/external-services#neon"}\n')
    done = run_cli(environ, str(cases))
    assert done.returncode == 0, done.stderr
    assert "ranking:    recall@1 1.00" in done.stdout
    assert "sparse search, top_k 5" in done.stdout


def test_reads_the_feedback_export_from_stdin(environ):
    exported = {"query": "Where do I copy the connection string on Neon?", "retrieved": [str(uuid.uuid4())],
                "reason": "wrong", "comment": None, "answer_id": "a1", "feedback_id": "f1"}
    done = run_cli(environ, "-", stdin=json.dumps(exported) + "\n")
    assert done.returncode == 0, done.stderr
    assert "1 from feedback" in done.stdout
    assert "feedback:   1 rated answers: all their chunks still retrieved 0, some 0, none 1; 1 chunks gone" in done.stdout


def test_a_bad_cases_file_stops_with_its_line(environ, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"query": "q", "expected_url": "/docs/intro"}\n{"query": ""}\n')
    done = run_cli(environ, str(cases))
    assert done.returncode == 2
    assert "line 2: query must be a non-empty string" in done.stderr


def test_says_when_the_book_is_not_indexed(environ, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"query": "q", "expected_url": "/docs/intro"}\n')
    done = run_cli({**environ, "QDRANT_COLLECTION_NAME": "nothing_here"}, str(cases))
    assert done.returncode == 2
    assert "collection nothing_here is empty" in done.stderr
