"""lib/evaluate_extractive.py: reading the cases, comparing phrases, and the command's report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import evaluate_extractive
from lib.evaluate_extractive import Case, Outcome

REPO = Path(__file__).resolve().parents[2]


def test_compares_phrases_without_case_markup_or_extra_spaces():
    case = Case("docs", "q", ("defer: true", "Rebuild and deploy", "not there"))
    outcome = Outcome(case, "Add `{src: …, defer: true}` then **rebuild  and\ndeploy** the site.", refused=False)
    assert outcome.found == ("defer: true", "Rebuild and deploy")
    assert outcome.missed == ("not there",)


def test_counts_the_share_of_phrases_found():
    outcomes = [
        Outcome(Case("docs", "a", ("x", "y")), "x and y", False),
        Outcome(Case("docs", "b", ("z", "w")), "z", False),
    ]
    assert evaluate_extractive.figures(outcomes) == {
        "questions": 2, "phrases": 4, "found": 3, "share": 0.75, "complete": 1, "refused": 0
    }


def test_a_case_without_phrases_is_an_error():
    with pytest.raises(ValueError, match="line 2"):
        evaluate_extractive.read_cases(['{"book": "docs", "query": "q", "must_contain": ["x"]}', '{"book": "docs", "query": "q"}'])


def test_the_command_reports_each_book_it_measured(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"book": "mine", "query": "How do I keep a starter?", "must_contain": ["fridge"]}) + "\n")
    book = tmp_path / "book"
    book.mkdir()
    (book / "starter.md").write_text("# Keeping a starter\n\nKeep the starter in the fridge and feed it weekly.\n")
    done = subprocess.run(
        [sys.executable, "-m", "lib.evaluate_extractive", str(cases), "--book", f"mine={book}", "--json"],
        cwd=REPO, capture_output=True, text=True, env={"DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"mine": {"questions": 1, "phrases": 1, "found": 1, "share": 1.0, "complete": 1, "refused": 0}}
