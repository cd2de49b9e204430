"""What the browser tests share: the stand-in site, a page that records what went wrong, and the reader's steps."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.sync_api import Dialog, Locator, Page, Request, expect

ADMIN_KEY = "admin-" + secrets.token_hex(12)

# A page whose title and passages carry markup that must reach the reader as text.
MARKUP_PAGE = """---
title: 'Markup <img src=x onerror="window.__pwned=1"> in <script>window.__pwned=2</script> titles'
---

# Markup in titles

## Escaping passages

The escaping test passage quotes `<img src=x onerror="window.__pwned=3">` and `<script>window.__pwned=4</script>` verbatim.

```html
<script>window.__pwned=5</script>
```
"""
MARKUP_QUESTION = "Which img src onerror window pwned script does the escaping test passage quote verbatim?"
WIDGET_QUESTION = "How do I add the widget to Docusaurus?"


@dataclass
class Site:
    """The stand-in for the book's Docusaurus site: a folder served over HTTP."""

    root: Path
    url: str

    def write(self, name: str, html: str) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
        return f"{self.url}/{name}"


@dataclass
class Tab:
    """A page, with the uncaught errors, dialogs and requests seen in it."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._dismiss)
        self.page.on("request", lambda request: self.requests.append(request))

    def _dismiss(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def sent(self, path: str) -> list[dict]:
        """The JSON bodies of the POSTs made to path, in order."""
        return [r.post_data_json for r in self.requests if r.method == "POST" and r.url.split("?")[0].endswith(path)]


def ask(scope: Page | Locator, question: str) -> Locator:
    """Types a question, sends it with Enter, and returns the answer once it has stopped streaming."""
    box = scope.locator(".bb-input")
    box.fill(question)
    box.press("Enter")
    answer = scope.locator(".bb-bot").last
    expect(answer).not_to_have_attribute("data-state", "streaming", timeout=15_000)
    return answer


def feedback_stored(service) -> list[dict]:
    """What the service stored, read back through its admin route."""
    response = httpx.get(
        service.url + "/v1/feedback", params={"limit": 200}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    response.raise_for_status()
    return response.json()["items"]
