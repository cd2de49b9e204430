"""handlers/query.py called directly, with a request value and a real pool: no HTTP, no Falcon."""

import asyncio
import sqlite3
import time

import pytest

from handlers import query
from handlers.query import QueryRequest
from lib.answer.generation import NOT_IN_BOOK, SYSTEM_PROMPT
from lib.errors import Unavailable
from tests.parts import pool

pytestmark = pytest.mark.anyio

CHUNK_QUESTION = "How many tokens does a chunk have by default, and how much do neighbouring chunks overlap?"


async def ask(clients, **fields):
    reply = await query.handle(QueryRequest.from_json(fields, request_id="test"), clients)
    assert reply.status == 200
    return reply.body


async def test_answers_extractively_with_sources_when_no_model_is_configured(config_for, sparse_index):
    async with pool(config_for(sparse_index)) as clients:
        body = await ask(clients, query=CHUNK_QUESTION)
    assert body["answerable"] is True and body["mode"] == "extractive" and body["model"] is None
    assert body["sources"][0]["url"] == "/docs/how-it-works/ingestion#splitting-by-size"
    assert "500" in body["answer"] and "[1]" in body["answer"]
    assert body["id"].startswith("ans_") and body["request_id"] == "test" and body["cached"] is False
    assert all(0 <= source["score"] <= 1 for source in body["sources"])


async def test_answers_with_the_model_citing_numbered_passages(config_for, dense_index, fake_openai):
    fake_openai.reply = "Chunks hold 500 tokens [1] and overlap by 50 [2]."
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query=CHUNK_QUESTION, top_k=3)
    assert body["mode"] == "rag" and body["answerable"] is True
    assert body["answer"] == "Chunks hold 500 tokens [1] and overlap by 50 [2]."
    assert body["model"] == "gpt-4o-mini" and body["usage"]["completion_tokens"] > 0
    [chat] = fake_openai.calls("chat/completions")
    assert chat["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "[1] " in chat["messages"][1]["content"] and CHUNK_QUESTION in chat["messages"][1]["content"]
    assert chat["max_tokens"] == 500


async def test_removes_a_citation_to_a_passage_that_does_not_exist(config_for, dense_index, fake_openai):
    fake_openai.reply = "Chunks hold 500 tokens [1][7], see also [42]."
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query=CHUNK_QUESTION, top_k=2)
    assert body["answer"] == "Chunks hold 500 tokens [1], see also."
    assert len(body["sources"]) <= 2


async def test_refuses_below_the_threshold_without_calling_the_model(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index, similarity_threshold=0.99)) as clients:
        body = await ask(clients, query="What is the airspeed velocity of an unladen swallow?")
    assert body["answerable"] is False and body["refusal_reason"] == "low_score" and body["mode"] == "refusal"
    assert body["sources"] == [] and body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0} and body["model"] is None
    assert fake_openai.calls("chat/completions") == []


async def test_refuses_with_no_hits_when_the_question_has_no_searchable_words(config_for, sparse_index):
    async with pool(config_for(sparse_index)) as clients:
        body = await ask(clients, query="what is it?")
    assert body["answerable"] is False and body["refusal_reason"] == "no_hits" and body["mode"] == "refusal"


async def test_refuses_out_of_scope_when_the_model_says_the_book_lacks_the_answer(config_for, dense_index, fake_openai):
    fake_openai.reply = NOT_IN_BOOK
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query=CHUNK_QUESTION)
    assert body["answerable"] is False and body["refusal_reason"] == "out_of_scope" and body["sources"] == []
    # The model was asked, and said the book lacks the answer: what that cost is still reported.
    assert body["mode"] == "refusal" and body["model"] == "gpt-4o-mini" and body["usage"]["prompt_tokens"] > 0


async def test_falls_back_to_an_extractive_answer_when_the_model_fails(config_for, dense_index, fake_openai):
    fake_openai.fail_next(status=500, times=5, path="chat/completions")
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query=CHUNK_QUESTION)
    assert body["mode"] == "extractive" and body["answerable"] is True and "[1]" in body["answer"]
    assert fake_openai.calls("chat/completions")  # it was tried


async def test_answers_from_the_selection_only_and_never_retrieves(config_for, dense_index, fake_openai):
    fake_openai.reply = "It says the sky is green [1]."
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query="What colour is the sky?", selected_text="In this story the sky is green.")
    assert body["mode"] == "selected_text" and body["sources"] == []
    assert body["answer"] == "It says the sky is green."  # no passage to cite
    assert fake_openai.calls("embeddings") == []
    [chat] = fake_openai.calls("chat/completions")
    assert "In this story the sky is green." in chat["messages"][1]["content"]


async def test_quotes_the_selection_when_no_model_is_configured(tmp_path):
    from lib.config import Config

    config = Config(data_dir=tmp_path, index_on_start=False)  # nothing indexed: retrieval would fail
    async with pool(config) as clients:
        body = await ask(
            clients,
            query="Which port does the service listen on?",
            selected_text="The service listens on port 8000 by default. Nothing else matters here at all.",
        )
    assert body["mode"] == "extractive" and "port 8000" in body["answer"] and body["sources"] == []


PAGE = {
    "page_url": "https://book.example/docs/launch#launch-files",
    "page_title": "Launch files",
    "page_section": "What a launch file does",
}


async def test_the_page_of_the_selection_is_the_answers_one_source(config_for, dense_index, fake_openai):
    fake_openai.reply = "It starts every node with one command."
    selection = "A launch file starts every node with one command."
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query="What does this mean?", selected_text=selection, **PAGE)
    assert body["mode"] == "selected_text" and body["answer"] == "It starts every node with one command."
    [source] = body["sources"]
    assert source["url"] == PAGE["page_url"] and source["title"] == "Launch files"
    assert source["section"] == "What a launch file does" and source["snippet"] == selection
    assert fake_openai.calls("embeddings") == []


async def test_a_quoted_selection_answer_names_its_page_too(tmp_path):
    from lib.config import Config

    selection = "The service listens on port 8000 by default. Nothing else matters here at all."
    async with pool(Config(data_dir=tmp_path, index_on_start=False)) as clients:
        body = await ask(clients, query="Which port?", selected_text=selection, page_url="http://localhost:3000/docs/intro")
    assert body["mode"] == "extractive" and "(Selected" not in body["answer"] and "port 8000" in body["answer"]
    assert [(s["url"], s["title"], s["section"]) for s in body["sources"]] == [
        ("http://localhost:3000/docs/intro", "http://localhost:3000/docs/intro", "")
    ]


@pytest.mark.parametrize(
    "page_url", ["javascript:alert(1)", "/docs/intro", "https://book.example/a b", "https://" + "x" * 2000, 42]
)
def test_refuses_a_page_url_that_is_not_an_http_address(page_url):
    from lib.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as error:
        QueryRequest.from_json({"query": "q", "selected_text": "s", "page_url": page_url})
    assert error.value.field == "page_url"


async def test_rewrites_a_follow_up_into_a_standalone_question_before_retrieval(config_for, dense_index, fake_openai):
    standalone = "How do I install Bookbot on a Hugging Face Space?"

    def reply(request):
        system = request["messages"][0]["content"]
        return standalone if system.startswith("Rewrite") else "Push it to the Space [1]."

    fake_openai.reply = reply
    history = [
        {"role": "user", "content": "What is Bookbot?"},
        {"role": "assistant", "content": "A chatbot API for a book."},
    ]
    async with pool(config_for(dense_index)) as clients:
        body = await ask(clients, query="and how do I install it?", history=history)
    rewrite, answer = fake_openai.calls("chat/completions")
    assert "What is Bookbot?" in rewrite["messages"][1]["content"]
    assert [call["input"] for call in fake_openai.calls("embeddings")] == [[standalone]]
    assert standalone in answer["messages"][1]["content"]
    assert body["answer"] == "Push it to the Space [1]."


async def test_says_the_book_is_not_indexed_with_a_503(tmp_path):
    from lib.config import Config

    async with pool(Config(data_dir=tmp_path, index_on_start=False)) as clients:
        with pytest.raises(Unavailable) as caught:
            await query.handle(QueryRequest.from_json({"query": "anything at all"}), clients)
    assert caught.value.STATUS == 503 and "Retry-After" in caught.value.headers
    assert "not indexed" in caught.value.message


async def test_says_when_the_collection_was_indexed_with_another_model(config_for, dense_index, fake_openai):
    async with pool(config_for(dense_index, openai_embedding_model="text-embedding-3-large")) as clients:
        with pytest.raises(Unavailable) as caught:
            await query.handle(QueryRequest.from_json({"query": CHUNK_QUESTION}), clients)
    assert "text-embedding-3-small" in caught.value.message and "--recreate" in caught.value.message


async def test_logs_every_answer_off_the_request_path(config_for, sparse_index):
    config = config_for(sparse_index)
    async with pool(config) as clients:
        body = await ask(clients, query=CHUNK_QUESTION, session_id="reader-1")
    # Closing the pool drains the answer log.
    with sqlite3.connect(config.sqlite_path) as db:
        row = db.execute("select query, mode, answerable, session_id, retrieved from answers where id = ?", (body["id"],)).fetchone()
    assert row[:4] == (CHUNK_QUESTION, "extractive", 1, "reader-1")
    assert body["sources"][0]["chunk_id"] in row[4]


async def test_keeps_the_question_out_of_the_log_when_told_to(config_for, sparse_index):
    config = config_for(sparse_index, store_queries=False)
    async with pool(config) as clients:
        body = await ask(clients, query=CHUNK_QUESTION)
    with sqlite3.connect(config.sqlite_path) as db:
        [(logged,)] = db.execute("select query from answers where id = ?", (body["id"],)).fetchall()
    assert logged is None


async def test_answers_while_the_database_is_down(config_for, sparse_index, pg_cluster):
    config = config_for(sparse_index, database_url=pg_cluster.url, database_timeout=1.0)
    pg_cluster.stop()
    try:
        async with pool(config) as clients:
            started = time.perf_counter()
            body = await ask(clients, query=CHUNK_QUESTION)
            elapsed = time.perf_counter() - started
    finally:
        pg_cluster.start()
    assert body["answerable"] is True
    print(f"answered in {elapsed * 1000:.1f} ms with the database down")


async def test_a_stream_refused_under_load_is_a_503_before_any_event(config_for, sparse_index):
    from lib.admission import Gate

    async with pool(config_for(sparse_index)) as clients:
        clients.retrieval_gate = Gate(slots=1, patience=0.5, first_guess=5.0)  # a crowd ahead, 5 s a turn
        release = asyncio.Event()

        async def crowd():
            async with clients.retrieval_gate.held():
                await release.wait()

        holder = asyncio.create_task(crowd())
        await asyncio.sleep(0.01)
        with pytest.raises(Unavailable) as caught:
            await query.handle(QueryRequest.from_json({"query": "What is a chunk?", "stream": True}), clients)
        release.set()
        await holder
        reply = await query.handle(QueryRequest.from_json({"query": "What is a chunk?", "stream": True}), clients)
        names = [name async for name, _ in reply.events]
    assert caught.value.STATUS == 503 and int(caught.value.headers["Retry-After"]) >= 5
    assert names[0] == "sources" and names[-1] == "done"


# Several books: the fixture Docusaurus site's two docs instances, `default` (the handbook) and `guide`.


@pytest.fixture(scope="module")
def garden_index(tmp_path_factory):
    from lib.config import Config
    from tests.parts import index_book
    from tests.sitebuild import FIXTURE_SITE

    config = Config(data_dir=tmp_path_factory.mktemp("garden"), index_on_start=False, embeddings="none")
    index_book(config, FIXTURE_SITE)
    return config


async def test_each_source_says_which_book_it_is_in_and_links_to_the_site(config_for, garden_index):
    async with pool(config_for(garden_index)) as clients:
        body = await ask(clients, query="How do I extend a loan?")
    first = body["sources"][0]
    assert (first["book"], first["url"]) == ("guide", "https://example.org/base/guide/borrowing/extending-a-loan")


@pytest.mark.parametrize("book", ["default", "guide"])
async def test_a_question_asked_in_a_book_is_answered_from_that_book(config_for, garden_index, book):
    async with pool(config_for(garden_index)) as clients:
        body = await ask(clients, query="What is the setup?", book=book)
    assert body["answerable"] and {source["book"] for source in body["sources"]} == {book}


async def test_a_question_another_book_answers_falls_back_to_every_book(config_for, garden_index):
    async with pool(config_for(garden_index)) as clients:
        preferred = await ask(clients, query="How do I extend a loan?", book="default")
        only = await ask(clients, query="How do I extend a loan?", book="default", book_only=True)
    assert preferred["answerable"] and preferred["sources"][0]["book"] == "guide"
    assert not only["answerable"] and {source["book"] for source in only["sources"]} <= {"default"}
    assert only["cached"] is False  # the cache keeps each book's answer apart


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"book": "no spaces"}, "book"),
        ({"book": ""}, "book"),
        ({"book": 3}, "book"),
        ({"book_only": True}, "book_only"),
        ({"book": "guide", "book_only": "yes"}, "book_only"),
    ],
)
def test_refuses_a_bad_book_naming_the_field(fields, field):
    from lib.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as raised:
        QueryRequest.from_json({"query": "Where?", **fields})
    assert raised.value.field == field
