"""Logging as one JSON object per line, with whatever a record carries in `extra`, and no secret in it."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# The service's own loggers follow LOG_LEVEL; libraries (httpx, openai, qdrant_client...) say only warnings.
_OWN = ("bookbot", "lib", "uvicorn")
_LIBRARIES_LEVEL = logging.WARNING
_REDACTED = "[redacted]"
_SHORTEST_SECRET = 4  # shorter strings would blank out ordinary words

access_log = logging.getLogger("bookbot.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; every configured secret that shows up anyway is replaced."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        # As they appear inside a JSON string, longest first so a secret containing another goes whole.
        self._secrets = sorted({json.dumps(s, ensure_ascii=False)[1:-1] for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        text = json.dumps(line, default=str, ensure_ascii=False)
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


def secrets_of(config) -> list[str]:
    """Every value of the configuration that must never reach a log: keys, the database URL and its password."""
    found = [config.openai_api_key, config.qdrant_api_key, config.admin_api_key, config.metrics_api_key, *config.api_keys]
    if config.database_url:
        found.append(config.database_url)
        try:
            found.append(urlsplit(config.database_url).password)
        except ValueError:
            pass
    return [secret for secret in found if secret]


def configure(level: str, secrets: Iterable[str] = ()) -> None:
    """Send every log to stderr as JSON lines: the service's own at LOG_LEVEL, libraries' from WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(_LIBRARIES_LEVEL, logging.getLevelName(level)))
    for name in _OWN:
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.setLevel(level)
        logger.propagate = True
    logging.captureWarnings(True)  # a library's warnings.warn() becomes a JSON line too


def access(fields: Mapping[str, Any]) -> None:
    """The one line per request: request id, route, status, latency, and what the reply adds."""
    # A field named like a LogRecord attribute would make logging raise.
    access_log.info("request", extra={(f"field_{key}" if key in _STANDARD else key): value for key, value in fields.items()})
