"""The fake OpenAI server, driven through the real openai SDK."""

import asyncio
import json
import math
import time

import openai
import pytest

from tests.fakes.openai_server import (
    DEFAULT_DIMENSIONS,
    DEFAULT_REPLY,
    FakeOpenAI,
    embed,
)

MESSAGES = [{"role": "system", "content": "Answer from the sources."}, {"role": "user", "content": "What is RAG?"}]


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake):
    fake.reset()


@pytest.fixture
def client(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def async_client(fake, **options):
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", **{"max_retries": 0, **options})


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (math.hypot(*a) * math.hypot(*b))


def eventually(predicate, within=5.0):
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# Lifecycle


def test_serves_on_a_loopback_port_between_start_and_stop():
    server = FakeOpenAI(models=("only-model",))
    assert server.start() is server
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.base_url.endswith("/v1")
        with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as sdk:
            assert [model.id for model in sdk.models.list()] == ["only-model"]
    finally:
        server.stop()
    with pytest.raises(RuntimeError):
        server.base_url


def test_the_sdk_finds_it_through_openai_base_url(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with openai.OpenAI(max_retries=0) as sdk:
        assert sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices


# Models


def test_lists_the_configured_models(client):
    models = client.models.list().data
    assert [model.id for model in models] == ["gpt-4o-mini", "text-embedding-3-small"]
    assert all(model.object == "model" and model.owned_by for model in models)


# Embeddings


def test_base64_and_float_embeddings_decode_to_the_same_unit_vectors(fake):
    texts = ["Qdrant stores vectors", "PostgreSQL stores rows"]

    async def both_encodings():
        async with async_client(fake) as sdk:
            default = await sdk.embeddings.create(model="text-embedding-3-small", input=texts)
            floats = await sdk.embeddings.create(
                model="text-embedding-3-small", input=texts, encoding_format="float"
            )
        return default, floats

    default, floats = asyncio.run(both_encodings())

    assert [call["encoding_format"] for call in fake.calls("embeddings")] == ["base64", "float"]
    assert [item.embedding for item in default.data] == [item.embedding for item in floats.data]
    for item, text in zip(default.data, texts):
        assert item.embedding == embed(text)
        assert len(item.embedding) == DEFAULT_DIMENSIONS
        assert math.hypot(*item.embedding) == pytest.approx(1.0, abs=1e-6)
    assert [item.index for item in default.data] == [0, 1]
    assert default.usage.prompt_tokens == default.usage.total_tokens == 6


def test_texts_sharing_words_are_closer_than_unrelated_texts(client):
    query, related, unrelated = client.embeddings.create(
        model="text-embedding-3-small",
        input=["how do I reset my password", "reset your password from the login page", "bananas are yellow"],
    ).data

    assert cosine(query.embedding, related.embedding) > cosine(query.embedding, unrelated.embedding)


def test_embeddings_are_deterministic_and_ignore_case(client):
    first, second = client.embeddings.create(model="m", input=["Hello World", "hello world"]).data
    again = client.embeddings.create(model="m", input="Hello World").data[0]

    assert first.embedding == second.embedding == again.embedding


@pytest.mark.parametrize("dimensions", [8, 256])
def test_honours_dimensions(client, dimensions):
    vector = client.embeddings.create(model="m", input="some text", dimensions=dimensions).data[0].embedding

    assert len(vector) == dimensions
    assert math.hypot(*vector) == pytest.approx(1.0, abs=1e-6)


def test_embeds_token_arrays_as_their_text(client):
    vectors = client.embeddings.create(model="m", input=[[1, 2, 3], [4, 5]]).data

    assert [item.embedding for item in vectors] == [embed("1 2 3"), embed("4 5")]


@pytest.mark.parametrize(
    "bad",
    [{"input": ""}, {"input": []}, {"input": ["fine", ""]}, {"input": "x", "dimensions": 0}],
    ids=["empty string", "empty list", "empty item", "zero dimensions"],
)
def test_rejects_bad_embedding_requests_with_a_400(client, bad):
    with pytest.raises(openai.BadRequestError) as error:
        client.embeddings.create(model="m", **bad)

    assert error.value.body["type"] == "invalid_request_error"


# Chat completions


def test_answers_a_chat_completion_with_the_default_reply_citing_a_source(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == DEFAULT_REPLY
    assert "[1]" in DEFAULT_REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 7
    assert completion.usage.completion_tokens == len(DEFAULT_REPLY.replace("[1]", "1").split())
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_a_reply_callable_receives_the_request_body(fake, client):
    seen = []

    def reply(body):
        seen.append(body)
        return f"You asked: {body['messages'][-1]['content']}"

    fake.reply = reply
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert seen[0]["messages"] == MESSAGES
    assert completion.choices[0].message.content == "You asked: What is RAG?"


def test_streamed_deltas_join_to_the_reply_and_end_with_usage(fake):
    fake.reply = "Retrieval augmented generation [1] grounds answers."

    async def stream():
        async with async_client(fake) as sdk:
            chunks = await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            return [chunk async for chunk in chunks]

    chunks = asyncio.run(stream())
    deltas = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]

    assert "".join(deltas) == fake.reply
    assert len(deltas) == 6
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6
    assert chunks[-1].usage.prompt_tokens == 7


def test_a_stream_without_include_usage_carries_no_usage(client):
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == DEFAULT_REPLY
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)


# Failures


@pytest.mark.parametrize(
    ("status", "exception"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError), (503, openai.InternalServerError)],
)
def test_an_injected_failure_surfaces_as_the_sdk_error_for_its_status(fake, client, status, exception):
    fake.fail_next(status=status, path="chat/completions")

    with pytest.raises(exception) as error:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert error.value.status_code == status
    assert set(error.value.body) >= {"message", "type", "code"}


def test_a_rate_limit_carries_retry_after_headers(fake, client):
    fake.fail_next(status=429, retry_after=2)

    with pytest.raises(openai.RateLimitError) as error:
        client.models.list()

    assert error.value.body["code"] == "rate_limit_exceeded"
    assert error.value.response.headers["retry-after"] == "2"
    assert error.value.response.headers["retry-after-ms"] == "2000"


def test_a_failure_happens_as_many_times_as_asked_then_requests_succeed(fake, client):
    fake.fail_next(status=500, times=2, path="embeddings")

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="m", input="text")
    assert client.embeddings.create(model="m", input="text").data


def test_a_failure_for_one_path_leaves_the_others_alone(fake, client):
    fake.fail_next(status=429, path="embeddings")

    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="m", input="text")


def test_the_sdk_retries_a_rate_limit_and_then_succeeds(fake):
    fake.fail_next(status=429, path="chat/completions")

    with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=1) as sdk:
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.choices[0].message.content == DEFAULT_REPLY
    assert len(fake.calls("chat/completions")) == 2


def test_malformed_json_makes_the_sdk_raise(fake, client):
    fake.malformed_next(path="chat/completions")

    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices


def test_a_malformed_stream_event_makes_the_sdk_raise(fake, client):
    fake.malformed_next()

    with pytest.raises(json.JSONDecodeError):
        list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))


def test_latency_beyond_the_client_timeout_raises_a_timeout_and_counts_a_disconnect(fake):
    fake.latency = {"chat/completions": 5.0}

    with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=0.2) as sdk:
        assert sdk.models.list().data
        with pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert eventually(lambda: fake.disconnects == 1)


def test_a_cut_stream_raises_after_the_deltas_it_sent(fake, client):
    fake.reply = "one two three four five"
    fake.cut_stream_after(2)
    received = []

    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)

    assert received == ["", "one", " two"]
    assert "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )) == "one two three four five"


def test_a_client_closing_a_stream_early_counts_a_disconnect(fake):
    fake.reply = " ".join(f"word{n}" for n in range(200))
    fake.token_delay = 0.02

    async def read_two_deltas_then_leave():
        async with async_client(fake) as sdk:
            stream = await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            chunks = [await stream.__anext__() for _ in range(3)]
            await stream.close()
            return chunks

    chunks = asyncio.run(read_two_deltas_then_leave())

    assert [chunk.choices[0].delta.content for chunk in chunks] == ["", "word0", " word1"]
    assert eventually(lambda: fake.disconnects == 1)


def test_many_slow_requests_are_answered_concurrently(fake):
    fake.latency = 0.5

    async def hundred_at_once():
        async with async_client(fake, timeout=30) as sdk:
            started = time.monotonic()
            completions = await asyncio.gather(
                *(sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES) for _ in range(100))
            )
            return completions, time.monotonic() - started

    completions, elapsed = asyncio.run(hundred_at_once())

    assert {c.choices[0].message.content for c in completions} == {DEFAULT_REPLY}
    assert elapsed < 10  # one after another would take 50 s


# Unknown paths and bookkeeping


def test_an_unknown_path_is_a_404_in_openai_error_shape(client):
    with pytest.raises(openai.NotFoundError) as error:
        client.post("/no/such/thing", cast_to=object, body={})

    assert error.value.body == {
        "message": "Invalid URL (POST /v1/no/such/thing)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_records_every_request_and_reset_forgets_them_and_restores_settings(fake, client):
    fake.reply = "changed"
    fake.fail_next(status=500, path="embeddings")
    client.models.list()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert [path for path, _ in fake.requests] == ["/v1/models", "/v1/chat/completions"]
    assert fake.calls("chat/completions")[0]["messages"] == MESSAGES
    assert fake.calls("models") == [{}]

    fake.reset()

    assert fake.requests == [] and fake.disconnects == 0
    assert client.embeddings.create(model="m", input="text").data
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content == (
        DEFAULT_REPLY
    )


REWRITE = [
    {"role": "system", "content": "Rewrite the reader's last question."},
    {"role": "user", "content": "<conversation>\nuser: What is RAG?\n</conversation>\n<question>\nAnd <\\/b> how fast is it?\n</question>"},
]


def test_a_follow_up_rewrite_gets_the_question_back_unless_told_otherwise(fake, client):
    fake.reply = "An answer."
    first = client.chat.completions.create(model="gpt-4o-mini", messages=REWRITE)
    fake.rewrite = "How fast is RAG?"
    second = client.chat.completions.create(model="gpt-4o-mini", messages=REWRITE)
    third = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert first.choices[0].message.content == "And </b> how fast is it?"
    assert second.choices[0].message.content == "How fast is RAG?"
    assert third.choices[0].message.content == "An answer."
