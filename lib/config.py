"""Configuration, read once from the environment; a bad value names its variable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

import attrs
from attrs import frozen

from lib import pricing
from lib.book import links

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOCAL_MODEL = "all-MiniLM-L6-v2"  # EMBEDDINGS=local: the model lib/index/minilm.py runs, by the name collections record


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


_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:\d{1,5})?|https?://\[[0-9a-f:.]+\](:\d{1,5})?")


def _origins(value: str) -> tuple[str, ...]:
    """`*` alone, or origins exactly as a browser sends them in Origin: a scheme, a host, maybe a port."""
    origins = tuple(origin.rstrip("/").lower() for origin in _words(value))
    if "*" in origins:
        if len(origins) > 1:
            raise ValueError("must be * alone or a list of origins, not both")
        return origins
    for written, origin in zip(_words(value), origins):
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"has {written!r}, which is not an origin such as https://book.example.org")
    return origins


MIN_KEY_LENGTH = 16
_MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one"


def _key(value: str) -> str:
    """A key clients present: long enough that guessing it is hopeless (the key itself is never repeated)."""
    key = value.strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"must have at least {MIN_KEY_LENGTH} characters, not {len(key)}; {_MAKE_A_KEY}")
    return key


def _keys(value: str) -> tuple[str, ...]:
    keys = _words(value)
    for n, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"key {n} has {len(key)} characters; each must have at least {MIN_KEY_LENGTH}; {_MAKE_A_KEY}")
    return keys


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


def _variable(parse: Callable[[str], object], default: object = None):
    """A field read from the environment variable of its name, by `parse` (which raises ValueError)."""
    return attrs.field(default=default, metadata={"parse": parse})


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return chosen

    return parse


def _database_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("postgres://", "postgresql://", "sqlite:///")):
        raise ValueError("must start with postgresql://, postgres:// or sqlite:///")
    return value


@frozen
class Config:
    """Every variable the service reads, each declared once: its type, how its text is read, and its default.

    A field's environment variable is its name in capitals; a default of None means "not set".
    """

    openai_api_key: str | None = _variable(_text)
    openai_base_url: str | None = _variable(_url)
    openai_embedding_model: str = _variable(_text, "text-embedding-3-small")
    openai_generation_model: str = _variable(_text, "gpt-4o-mini")
    openai_max_tokens: int = _variable(_integer(1, 16384), 500)
    openai_timeout: float = _variable(_number(0.1, 600), 30.0)
    qdrant_url: str | None = _variable(_url)
    qdrant_api_key: str | None = _variable(_text)
    qdrant_collection_name: str = _variable(_text, "book_chunks_v1")
    qdrant_timeout: float = _variable(_number(0.1, 600), 10.0)
    database_url: str | None = _variable(_database_url)
    database_timeout: float = _variable(_number(0.1, 600), 5.0)
    data_dir: Path = _variable(Path, Path("data"))
    book_dir: Path = _variable(Path, REPO_ROOT / "docs")
    index_on_start: bool = _variable(_boolean, True)
    log_level: str = _variable(_log_level, "INFO")
    # Unset: lib.answer.refusal decides (0.5 on its relevance scale, 0.3 when a language model judges the rest).
    similarity_threshold: float | None = _variable(_number(0.0, 1.0))
    top_k: int = _variable(_integer(1, 20), 5)
    chunk_size: int = _variable(_integer(50, 8000), 500)
    chunk_overlap: int = _variable(_integer(0, 4000), 50)
    port: int = _variable(_integer(1, 65535), 8000)
    max_body_bytes: int = _variable(_integer(1024, 100_000_000), 65536)
    store_queries: bool = _variable(_boolean, True)
    answer_cache_seconds: float = _variable(_number(0, 86400), 900.0)
    allowed_origins: tuple[str, ...] = _variable(_origins, ())
    api_keys: tuple[str, ...] = _variable(_keys, ())
    admin_api_key: str | None = _variable(_key)
    # Unset: 1 on a Hugging Face Space (SPACE_ID is set: its proxy writes X-Forwarded-For), else 0.
    trusted_proxies: int = _variable(_integer(0, 10), 0)
    rate_limit_per_minute: int = _variable(_integer(0, 1_000_000), 30)
    rate_limit_per_day: int = _variable(_integer(0, 100_000_000), 1000)
    daily_token_budget: int = _variable(_integer(0, 10**12), 1_000_000)
    breaker_failures: int = _variable(_integer(1, 1000), 5)
    breaker_cooldown_seconds: float = _variable(_number(0.1, 3600), 15.0)
    shutdown_grace_seconds: float = _variable(_number(0, 3600), 8.0)
    metrics_api_key: str | None = _variable(_key)
    sentry_dsn: str | None = _variable(_sentry_dsn)
    sentry_environment: str | None = _variable(_text)
    model_prices: tuple[tuple[str, pricing.Price], ...] = _variable(pricing.parse, ())  # MODEL_PRICES as written; see `prices`
    retention_days: int = _variable(_integer(0, 36500), 0)  # 0: the answer log is kept for ever
    # Where dense embeddings come from; auto: the API when one is configured, else the local model.
    embeddings: str = _variable(_choice("auto", "openai", "local", "none"), "auto")
    # How long a question that misses the cache may expect to wait for its turn under load, before 503.
    queue_seconds: float = _variable(_number(0, 600), 5.0)
    # Where the book's site serves its docs (lib.book.site): each replaces the value docusaurus.config gives.
    book_url: str | None = _variable(links.site_url)  # the site's `url`: sources' links are absolute with it
    book_base_url: str | None = _variable(links.base_url)
    book_route_base_path: str | None = _variable(links.route_base_path)
    book_trailing_slash: str | None = _variable(links.trailing_slash)  # true, false or unset
    # What the HTTP server gives its clients (lib/hosts/server.py): time to send a request's headers, then its
    # body, and connections held at once.
    header_timeout_seconds: float = _variable(_number(0.1, 3600), 10.0)
    body_timeout_seconds: float = _variable(_number(0.1, 3600), 30.0)
    max_connections: int = _variable(_integer(1, 1_000_000), 1024)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """Read every variable once; raise ConfigError naming the first bad one."""
        environ = os.environ if environ is None else environ
        values = {}
        for variable in attrs.fields(cls):
            name = variable.name.upper()
            raw = environ.get(name, "")
            if not raw.strip():
                continue
            try:
                values[variable.name] = variable.metadata["parse"](raw)
            except ValueError as error:
                raise ConfigError(f"{name} {error}") from None
        if "trusted_proxies" not in values:
            values["trusted_proxies"] = 1 if environ.get("SPACE_ID", "").strip() else 0
        config = cls(**values)
        if config.chunk_overlap >= config.chunk_size:
            raise ConfigError(
                f"CHUNK_OVERLAP must be smaller than CHUNK_SIZE ({config.chunk_size}), got {config.chunk_overlap}"
            )
        if config.embeddings == "openai" and not config.openai_enabled:
            raise ConfigError("EMBEDDINGS openai needs OPENAI_API_KEY or OPENAI_BASE_URL; auto takes the local model without")
        return config

    @property
    def openai_enabled(self) -> bool:
        """An OpenAI-compatible server is configured (a key, or a base URL of its own)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def generation_enabled(self) -> bool:
        return self.openai_enabled and bool(self.openai_generation_model)

    @property
    def embedding_source(self) -> str:
        """Where dense embeddings come from: `openai`, `local` or `none` (sparse search alone)."""
        if self.embeddings != "auto":
            return self.embeddings
        return "openai" if self.openai_enabled and self.openai_embedding_model else "local"

    @property
    def dense_enabled(self) -> bool:
        return self.embedding_source != "none"

    @property
    def embedding_model(self) -> str | None:
        """The name the collection records for its embeddings."""
        return {"openai": self.openai_embedding_model, "local": LOCAL_MODEL}.get(self.embedding_source)

    @property
    def prices(self) -> dict[str, pricing.Price]:
        """USD per million tokens, by model: the embedded defaults with MODEL_PRICES over them."""
        return {**pricing.DEFAULT_PRICES, **dict(self.model_prices)}

    @property
    def qdrant_path(self) -> Path:
        """Where Qdrant's local mode kept the collections, before the embedded engine: migrated from on start."""
        return self.data_dir / "qdrant"

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / "vectors"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "feedback.sqlite3"
