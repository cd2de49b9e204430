"""lib/answer/extractive.py: what a quoted answer chooses from the passages, and how it reads."""

import re

import pytest

from lib.answer import extractive
from lib.answer.extractive import DEFINITION, FACT, HOW_TO, TROUBLESHOOTING

STEPS = """An **autolyse** is a rest of flour and water alone, before the levain goes in.
During the rest the flour absorbs the water.

1. Mix the flour with all the water except about 20 g.
2. Cover and leave for 30–60 minutes.
3. Add the levain, then the salt.

Strictly speaking, an autolyse contains no levain."""

HOOCH = """Starters misbehave in many ways. A layer of grey liquid on the surface is called **hooch**.
It is alcohol and water that separate when the culture goes hungry. It is harmless. Pour it off, then feed."""

LONG_CODE = "Start uvicorn from the repository root:\n\n```bash\n" + "\n".join(f"echo {n}" for n in range(30)) + "\n```\n"
SHORT_CODE = "From the root of your clone:\n\n```bash\ngit remote add hf https://example.org/x\ngit push hf main\n```\n"


@pytest.mark.parametrize(
    "question, intent",
    [
        ("How do I do an autolyse?", HOW_TO),
        ("How can a client resend a rating?", HOW_TO),
        ("What is hooch on a starter?", DEFINITION),
        ("What does SIMILARITY_THRESHOLD mean?", DEFINITION),
        ("My starter smells like nail polish remover. What does it need?", TROUBLESHOOTING),
        ("What should I check when /health says the database is unhealthy?", TROUBLESHOOTING),
        ("How long can a shaped loaf stay in the fridge?", FACT),
        ("Which port does the service listen on?", FACT),
    ],
)
def test_tells_what_kind_of_answer_a_question_wants(question, intent):
    assert extractive.intent(question) == intent


def test_a_how_to_gets_the_steps_in_order_with_the_sentence_that_leads_into_them():
    answer = extractive.extract("How do I do an autolyse?", [STEPS])
    steps = re.findall(r"^(\d)\. (.*)$", answer, re.M)
    assert [n for n, _ in steps] == ["1", "2", "3"]
    assert steps[0][1].startswith("Mix the flour") and steps[2][1].startswith("Add the levain")
    assert answer.startswith("During the rest the flour absorbs the water.")


def test_a_definition_gets_the_defining_sentence_and_what_follows_it():
    answer = extractive.extract("What is hooch?", [HOOCH])
    assert answer.startswith("A layer of grey liquid on the surface is called hooch.")
    assert "It is alcohol and water" in answer and "It is harmless" in answer
    assert "Starters misbehave" not in answer


def test_markdown_becomes_plain_text():
    markdown = "Set **`TOP_K`** in [the configuration](../configuration.md#top-k), as <kbd>Ctrl</kbd> &amp; `**kwargs` show."
    assert extractive.plain(markdown) == "Set TOP_K in the configuration, as Ctrl & **kwargs show."


def test_a_table_row_reads_as_a_sentence_without_its_pipes():
    table = "| Variable | What it does |\n|---|---|\n| `TOP_K` | passages per question |\n| `PORT` | the port to listen on |\n"
    answer = extractive.extract("What does TOP_K do?", [table])
    assert answer == "TOP_K: passages per question [1]."


def test_a_short_code_block_comes_with_the_sentence_that_introduces_it():
    answer = extractive.extract("How do I push my clone?", [SHORT_CODE])
    assert answer == "From the root of your clone [1]:\n\n```\ngit remote add hf https://example.org/x\ngit push hf main\n```"


def test_never_ends_on_a_colon_whose_code_block_is_too_long_to_quote():
    passage = LONG_CODE + "\nThe server then listens on port 8000 for requests."
    answer = extractive.extract("How do I start uvicorn from the repository root?", [passage])
    assert answer == "The server then listens on port 8000 for requests [1]."


def test_cites_once_however_many_sentences_it_quotes():
    answer = extractive.extract("What is hooch?", [HOOCH, STEPS])
    assert re.findall(r"\[\d\]", answer) == ["[1]"]
    assert answer.endswith("It is harmless [1].")


def test_quotes_the_passage_whose_heading_names_the_subject():
    first = "Feeding keeps a starter active. Feed it twice a day at room temperature."
    second = "Keep the starter in the fridge and feed it once a week."
    answer = extractive.extract(
        "How do I keep a starter in the fridge?", [first, second], headings=["Feeding", "Keeping a starter in the fridge"]
    )
    assert answer == "Keep the starter in the fridge and feed it once a week [2]."


def test_leaves_out_the_broken_sentence_a_chunk_starts_with():
    passage = 'text": "..."}, to append in order. One done event ends the stream.'
    assert extractive.extract("Which event ends the stream?", [passage]) == "One done event ends the stream [1]."


def test_a_selection_is_quoted_without_a_citation():
    answer = extractive.extract("What is hooch?", [HOOCH], cite=False)
    assert "[" not in answer and "called hooch" in answer


def test_nothing_quotable_gives_an_empty_answer():
    assert extractive.extract("Anything?", ["# Only a heading\n\nimport X from 'y';\n"]) == ""


def test_a_question_of_two_parts_gets_a_sentence_of_another_passage_for_the_part_the_first_lacks():
    ports = "The service listens on port 8000 unless PORT says otherwise."
    logs = "Logs are written as one JSON line per request, to standard error."
    answer = extractive.extract("Which port does the service listen on, and where are its JSON logs written?", [ports, logs])
    assert answer == (
        "The service listens on port 8000 unless PORT says otherwise [1].\n\n"
        "Logs are written as one JSON line per request, to standard error [2]."
    )


def test_a_code_block_alone_answers_no_question_but_a_how_to():
    passage = "```python\nimport uuid\nrating = {'feedback_id': str(uuid.uuid4())}\n```\n\nA feedback_id makes a retry safe."
    assert extractive.extract("Is a feedback_id needed for a uuid rating?", [passage]) == "A feedback_id makes a retry safe [1]."


def test_a_snippet_is_the_passages_start_in_plain_text_without_its_code():
    passage = "Add the secrets:\n\n```bash\nexport KEY=1\n```\n\n| Name | What |\n|---|---|\n| `TOP_K` | passages |\n\n" + "word " * 80
    shown = extractive.snippet(passage, 60)
    assert shown.startswith("Add the secrets: TOP_K: passages. word") and "bash" not in shown and "|" not in shown
    assert shown.endswith("…") and len(shown) <= 61
