"""lib/answer/followup.py: when a question needs the conversation, and what retrieval is given."""

import pytest

from lib.answer import followup, generation, retrieval
from lib.answer.followup import Asked
from tests.parts import pool

pytestmark = pytest.mark.anyio  # for the async tests; the others run as they are


class Turn:
    def __init__(self, role: str, content: str):
        self.role, self.content = role, content


SPACE = [
    Turn("user", "How do I deploy Bookbot to a Hugging Face Space?"),
    Turn("assistant", "Create a Docker Space, push the code with git and add the secrets [1]."),
]


@pytest.mark.parametrize(
    "question",
    [
        "Does it go to sleep when nobody is using it?",
        "Is it the same on Supabase?",
        "And the wholemeal one?",
        "What about an oval one?",
        "Why?",
        "How long?",
        "so what would it be for my 70 mm refractor?",
    ],
)
def test_a_question_that_refers_back_needs_the_conversation(question):
    assert followup.points_back(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I keep a free Space from going to sleep?",
        "Separate question: which errors should my client retry?",
        "By the way, who won the Champions League last season?",
        "And by the way, who won it last year?",
        "Unrelated, but what will the weather be like in Paris tomorrow?",
        "OK, moving on: if I put more whole wheat in the country loaf, what else do I have to change?",
    ],
)
def test_a_question_that_stands_alone_or_changes_the_subject_does_not(question):
    assert not followup.points_back(question)


@pytest.mark.parametrize(
    "question, searched",
    [
        ("Separate question: which errors should my client retry?", "which errors should my client retry?"),
        ("And by the way, who won the Tour de France?", "who won the Tour de France?"),
        ("Different topic:  what is a chunk?", "what is a chunk?"),
        ("What is a chunk?", "What is a chunk?"),
        ("By the way who won?", "By the way who won?"),  # no mark to cut at: left as it is
    ],
)
def test_the_words_that_announce_a_new_subject_are_not_searched(question, searched):
    assert followup.without_new_topic_marker(question) == searched


async def asked(config, question, history):
    async with pool(config) as clients:
        collection = await retrieval.describe_collection(clients)
        return await followup.standalone(clients, collection, question, history)


async def test_a_question_without_history_is_searched_as_it_is(config_for, sparse_index):
    assert await asked(config_for(sparse_index), "What is a chunk?", ()) == Asked("What is a chunk?", "What is a chunk?")


async def test_without_a_model_a_follow_up_that_refers_back_is_searched_after_the_previous_question(config_for, sparse_index):
    question = "Does it go to sleep when nobody is using it?"
    found = await asked(config_for(sparse_index), question, SPACE)
    assert found == Asked(question, f"{SPACE[0].content}\n{question}")


async def test_what_deciding_found_is_what_the_answer_would_search_so_it_is_not_searched_again(config_for, sparse_index):
    async with pool(config_for(sparse_index)) as clients:
        collection = await retrieval.describe_collection(clients)
        found = await followup.standalone(clients, collection, "Does it go to sleep when nobody is using it?", SPACE)
        again = await retrieval.search(clients, found.search, clients.config.top_k, collection)
        assert found.found is not None and [p.chunk_id for p in found.found] == [p.chunk_id for p in again]
        # decided from the book's words alone, before any search: nothing found to hand on
        assert (await followup.standalone(clients, collection, "And what is its population?", SPACE)).found is None


async def test_without_a_model_an_off_topic_question_after_on_topic_turns_is_searched_alone(config_for, sparse_index):
    questions = ("What is the capital of France?", "And what is its population?",
                 "Also, what's the weather going to be in London this weekend?")  # "this" points back; the book knows no London
    for question in questions:
        assert await asked(config_for(sparse_index), question, SPACE) == Asked(question, question)


async def test_with_a_model_the_follow_up_is_what_the_model_rewrote(config_for, dense_index, fake_openai):
    fake_openai.rewrite = "Does a free Hugging Face Space go to sleep when nobody uses it?"
    found = await asked(config_for(dense_index), "Does it go to sleep when nobody is using it?", SPACE)
    assert found == Asked(fake_openai.rewrite, fake_openai.rewrite)
    [call] = fake_openai.calls("chat/completions")
    assert call["messages"][0]["content"] == generation.REWRITE_PROMPT
    assert "unchanged" in generation.REWRITE_PROMPT and "changes the subject" in generation.REWRITE_PROMPT


async def test_when_the_model_fails_retrieval_decides_as_without_one(config_for, dense_index, fake_openai):
    fake_openai.fail_next(status=400, path="chat/completions")  # a refusal of this request: not retried
    found = await asked(config_for(dense_index), "What is the capital of France?", SPACE)
    assert found == Asked("What is the capital of France?", "What is the capital of France?")
    assert len(fake_openai.calls("chat/completions")) == 1
