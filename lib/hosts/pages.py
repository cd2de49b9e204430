"""Routes that serve files and fixed documents: the chat page, the widget, the analytics page, Swagger UI.

They are routes like the API's, so every host serves them the same way:
GET and HEAD only, the error shape for anything else, one access log line each.
A file is read when asked for, so that an edited page shows at the next load.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Mapping

from lib.hosts.messages import Incoming, Reply, Route
from lib.metrics import STATIC

# A page that runs only its own files and can't be framed; as headers, for what a <meta> can't say.
OWN_FILES_ONLY = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}


def _content_type(file: Path) -> str:
    guessed = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _nothing(incoming: Incoming) -> None:
    return None


def page(path: str, file: Path, *, headers: Mapping[str, str] | None = None, label: str | None = None) -> Route:
    """GET `path`: the file, revalidated by the browser at each load."""
    fixed = {"Content-Type": _content_type(file), "Cache-Control": "no-cache", **(headers or {})}

    async def handle(request: None, clients) -> Reply:
        return Reply(body=file.read_bytes(), headers=fixed)

    return Route("GET", path, _nothing, handle, label=label)


def folder(prefix: str, root: Path) -> tuple[Route, ...]:
    """GET `prefix/NAME` for each file of the folder as it is now; nothing else under the prefix."""
    return tuple(
        page(f"{prefix}/{file.name}", file, label=STATIC) for file in sorted(root.iterdir()) if file.is_file()
    )


def document(path: str, content: dict | str, content_type: str = "application/json") -> Route:
    """GET `path`: a document made once, a JSON value or a text."""
    body = json.dumps(content).encode() if isinstance(content, dict) else content.encode()
    fixed = {"Content-Type": content_type}

    async def handle(request: None, clients) -> Reply:
        return Reply(body=body, headers=fixed)

    return Route("GET", path, _nothing, handle)
