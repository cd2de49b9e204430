"""Configuration is read once; a bad value stops start-up with a message that names it."""

import subprocess
import sys
from pathlib import Path

import pytest

from lib.config import Config, ConfigError
from lib.pricing import Price
from tests.service import REPO


def test_every_variable_of_the_deployment_guide_keeps_its_name_and_default():
    config = Config.from_environ({})
    assert config.openai_embedding_model == "text-embedding-3-small"
    assert config.openai_generation_model == "gpt-4o-mini"
    assert config.openai_max_tokens == 500
    assert config.qdrant_collection_name == "book_chunks_v1"
    assert config.log_level == "INFO" and config.top_k == 5
    assert config.openai_api_key is None and config.qdrant_url is None and config.database_url is None
    assert config.data_dir == Path("data") and config.port == 8000


def test_reads_values_and_strips_them():
    keys = ("a" * 16, "b" * 16, "c" * 16)
    config = Config.from_environ({"TOP_K": " 7 ", "LOG_LEVEL": "debug", "API_KEYS": f"{keys[0]}, {keys[1]},,{keys[2]}", "STORE_QUERIES": "false"})
    assert config.top_k == 7 and config.log_level == "DEBUG" and config.api_keys == keys
    assert config.store_queries is False


@pytest.mark.parametrize(
    "name, value",
    [
        ("TOP_K", "five"),
        ("TOP_K", "0"),
        ("OPENAI_MAX_TOKENS", "-1"),
        ("SIMILARITY_THRESHOLD", "1.5"),
        ("LOG_LEVEL", "LOUD"),
        ("QDRANT_URL", "qdrant.example:6333"),
        ("DATABASE_URL", "mysql://x"),
        ("STORE_QUERIES", "maybe"),
        ("PORT", "99999"),
        ("CHUNK_OVERLAP", "600"),
        ("SENTRY_DSN", "sentry.example.org/42"),
        ("SENTRY_DSN", "https://sentry.example.org/42"),
        ("MODEL_PRICES", "gpt-4o-mini=cheap"),
        ("MODEL_PRICES", "gpt-4o-mini:0.15/0.60"),
        ("RETENTION_DAYS", "-1"),
        ("RETENTION_DAYS", "a year"),
        ("BOOK_URL", "https://example.org/base/"),
        ("BOOK_URL", "example.org"),
        ("BOOK_BASE_URL", "https://example.org/base/"),
        ("BOOK_TRAILING_SLASH", "sometimes"),
        ("EMBEDDINGS", "openai"),  # with neither OPENAI_API_KEY nor OPENAI_BASE_URL
        ("EMBEDDINGS", "bert"),
        ("QUEUE_SECONDS", "-1"),
        ("ALLOWED_ORIGINS", "book.example.org"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        Config.from_environ({name: value})
    assert str(caught.value).startswith(name)


def test_model_prices_add_to_the_default_price_and_replace_it_when_they_name_its_model():
    assert Config.from_environ({}).prices == {"gpt-4o-mini": Price(prompt=0.15, completion=0.6)}
    config = Config.from_environ({"MODEL_PRICES": "gpt-4o-mini=0.2/0.8, local-llama=0/0"})
    assert config.prices == {"gpt-4o-mini": Price(prompt=0.2, completion=0.8), "local-llama": Price(prompt=0, completion=0)}


def test_the_books_site_values_are_read_as_docusaurus_normalises_them():
    config = Config.from_environ({"BOOK_URL": "https://example.org/", "BOOK_BASE_URL": "base", "BOOK_ROUTE_BASE_PATH": "handbook/", "BOOK_TRAILING_SLASH": "False"})
    assert (config.book_url, config.book_base_url, config.book_route_base_path, config.book_trailing_slash) == (
        "https://example.org", "/base/", "/handbook", "false")
    assert Config.from_environ({}).book_url is None


def test_retention_days_keeps_the_answer_log_for_ever_unless_set():
    assert Config.from_environ({}).retention_days == 0
    assert Config.from_environ({"RETENTION_DAYS": "90"}).retention_days == 90


def test_the_service_refuses_to_start_on_a_bad_value_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "router.py"], cwd=REPO, env={"TOP_K": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "configuration error: TOP_K" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "name, value",
    [("API_KEYS", "x"), ("API_KEYS", "a-long-enough-key-1234, short-k3y"), ("ADMIN_API_KEY", "s3cret"), ("METRICS_API_KEY", "m" * 15)],
)
def test_a_key_shorter_than_16_characters_is_refused_by_name_without_repeating_it(name, value):
    with pytest.raises(ConfigError) as caught:
        Config.from_environ({name: value})
    message = str(caught.value)
    assert message.startswith(name) and "at least 16" in message
    assert all(key.strip() not in message for key in value.split(",")), message


def test_a_key_of_16_characters_is_taken():
    assert Config.from_environ({"ADMIN_API_KEY": "k" * 16}).admin_api_key == "k" * 16


def test_the_service_refuses_to_start_with_a_one_character_key():
    result = subprocess.run(
        [sys.executable, "router.py"], cwd=REPO, env={"API_KEYS": "k", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "configuration error: API_KEYS key 1 has 1 characters; each must have at least 16" in result.stderr


def test_embeddings_openai_takes_a_key_or_a_server_of_its_own():
    assert Config.from_environ({"EMBEDDINGS": "openai", "OPENAI_API_KEY": "sk-test"}).embedding_source == "openai"
    assert Config.from_environ({"EMBEDDINGS": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}).embedding_source == "openai"
    assert Config.from_environ({}).embedding_source == "local"
