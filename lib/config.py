"""Configuration, read once from the environment; a bad value names its variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from attrs import frozen

from lib import pricing

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """Raised when an environment variable holds a value the service can't use."""


def _text(value: str) -> str:
    return value.strip()


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}, got {number}")
        return number

    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}, got {number}")
        return number

    return parse


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _words(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {value!r}")
    return value.rstrip("/")


def _sentry_dsn(value: str) -> str:
    """A Sentry DSN as its project settings show it: https://KEY@HOST/PROJECT_ID."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and parts.username and parts.hostname
    except ValueError:
        valid = False
    # The value itself is not repeated: it holds the project's key.
    if not valid or not parts.path.rstrip("/").rpartition("/")[2].isdigit():
        raise ValueError("must be a DSN as Sentry's project settings give it: https://KEY@HOST/PROJECT_ID")
    return value


def _database_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("postgres://", "postgresql://", "sqlite:///")):
        raise ValueError("must start with postgresql://, postgres:// or sqlite:///")
    return value


# name: (parser, default). A default of None means "not set".
_VARIABLES: dict[str, tuple[Callable[[str], object], object]] = {
    "OPENAI_API_KEY": (_text, None),
    "OPENAI_BASE_URL": (_url, None),
    "OPENAI_EMBEDDING_MODEL": (_text, "text-embedding-3-small"),
    "OPENAI_GENERATION_MODEL": (_text, "gpt-4o-mini"),
    "OPENAI_MAX_TOKENS": (_integer(1, 16384), 500),
    "OPENAI_TIMEOUT": (_number(0.1, 600), 30.0),
    "QDRANT_URL": (_url, None),
    "QDRANT_API_KEY": (_text, None),
    "QDRANT_COLLECTION_NAME": (_text, "book_chunks_v1"),
    "QDRANT_TIMEOUT": (_number(0.1, 600), 10.0),
    "DATABASE_URL": (_database_url, None),
    "DATABASE_TIMEOUT": (_number(0.1, 600), 5.0),
    "DATA_DIR": (Path, Path("data")),
    "BOOK_DIR": (Path, REPO_ROOT / "docs"),
    "INDEX_ON_START": (_boolean, True),
    "LOG_LEVEL": (_log_level, "INFO"),
    "SIMILARITY_THRESHOLD": (_number(0.0, 1.0), None),
    "TOP_K": (_integer(1, 20), 5),
    "CHUNK_SIZE": (_integer(50, 8000), 500),
    "CHUNK_OVERLAP": (_integer(0, 4000), 50),
    "PORT": (_integer(1, 65535), 8000),
    "MAX_BODY_BYTES": (_integer(1024, 100_000_000), 65536),
    "STORE_QUERIES": (_boolean, True),
    "ANSWER_CACHE_SECONDS": (_number(0, 86400), 900.0),
    "ALLOWED_ORIGINS": (_words, ()),
    "API_KEYS": (_words, ()),
    "ADMIN_API_KEY": (_text, None),
    # Unset: 1 on a Hugging Face Space (SPACE_ID is set: its proxy writes X-Forwarded-For), else 0.
    "TRUSTED_PROXIES": (_integer(0, 10), None),
    "RATE_LIMIT_PER_MINUTE": (_integer(0, 1_000_000), 30),
    "RATE_LIMIT_PER_DAY": (_integer(0, 100_000_000), 1000),
    "DAILY_TOKEN_BUDGET": (_integer(0, 10**12), 1_000_000),
    "BREAKER_FAILURES": (_integer(1, 1000), 5),
    "BREAKER_COOLDOWN_SECONDS": (_number(0.1, 3600), 15.0),
    "SHUTDOWN_GRACE_SECONDS": (_number(0, 3600), 8.0),
    "METRICS_API_KEY": (_text, None),
    "SENTRY_DSN": (_sentry_dsn, None),
    "SENTRY_ENVIRONMENT": (_text, None),
    "MODEL_PRICES": (pricing.parse, ()),
    "RETENTION_DAYS": (_integer(0, 36500), 0),
}

# Thresholds used when SIMILARITY_THRESHOLD is not set, per retrieval scale
# (see lib/retrieval.py): the cosine similarity of OpenAI embeddings, and the
# IDF-weighted share of the question's terms found in a passage. The lexical
# one maximises the refusals' F1 on tests/eval/cases.jsonl over the bundled
# book (python -m lib.evaluate tests/eval/cases.jsonl --fresh-index); the dense
# one has not been measured against a real embedding model here.
DEFAULT_DENSE_THRESHOLD = 0.25
DEFAULT_LEXICAL_THRESHOLD = 0.27


@frozen
class Config:
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    openai_generation_model: str = "gpt-4o-mini"
    openai_max_tokens: int = 500
    openai_timeout: float = 30.0
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_collection_name: str = "book_chunks_v1"
    qdrant_timeout: float = 10.0
    database_url: str | None = None
    database_timeout: float = 5.0
    data_dir: Path = Path("data")
    book_dir: Path = REPO_ROOT / "docs"
    index_on_start: bool = True
    log_level: str = "INFO"
    similarity_threshold: float | None = None
    top_k: int = 5
    chunk_size: int = 500
    chunk_overlap: int = 50
    port: int = 8000
    max_body_bytes: int = 65536
    store_queries: bool = True
    answer_cache_seconds: float = 900.0
    allowed_origins: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()
    admin_api_key: str | None = None
    trusted_proxies: int = 0
    rate_limit_per_minute: int = 30
    rate_limit_per_day: int = 1000
    daily_token_budget: int = 1_000_000
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 15.0
    shutdown_grace_seconds: float = 8.0
    metrics_api_key: str | None = None
    sentry_dsn: str | None = None
    sentry_environment: str | None = None
    model_prices: tuple[tuple[str, pricing.Price], ...] = ()  # MODEL_PRICES as written; see `prices`
    retention_days: int = 0  # 0: the answer log is kept for ever

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """Read every variable once; raise ConfigError naming the first bad one."""
        environ = os.environ if environ is None else environ
        values = {}
        for name, (parse, default) in _VARIABLES.items():
            raw = environ.get(name, "")
            if not raw.strip():
                values[name.lower()] = default
                continue
            try:
                values[name.lower()] = parse(raw)
            except ValueError as error:
                raise ConfigError(f"{name} {error}") from None
        if values["trusted_proxies"] is None:
            values["trusted_proxies"] = 1 if environ.get("SPACE_ID", "").strip() else 0
        if values["chunk_overlap"] >= values["chunk_size"]:
            raise ConfigError(
                f"CHUNK_OVERLAP must be smaller than CHUNK_SIZE ({values['chunk_size']}), "
                f"got {values['chunk_overlap']}"
            )
        return cls(**values)

    @property
    def openai_enabled(self) -> bool:
        """An OpenAI-compatible server is configured (a key, or a base URL of its own)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def generation_enabled(self) -> bool:
        return self.openai_enabled and bool(self.openai_generation_model)

    @property
    def dense_enabled(self) -> bool:
        return self.openai_enabled and bool(self.openai_embedding_model)

    @property
    def threshold(self) -> float:
        """The refusal threshold on the scale of the configured retrieval mode."""
        if self.similarity_threshold is not None:
            return self.similarity_threshold
        return DEFAULT_DENSE_THRESHOLD if self.dense_enabled else DEFAULT_LEXICAL_THRESHOLD

    @property
    def prices(self) -> dict[str, pricing.Price]:
        """USD per million tokens, by model: the embedded defaults with MODEL_PRICES over them."""
        return {**pricing.DEFAULT_PRICES, **dict(self.model_prices)}

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "feedback.sqlite3"
