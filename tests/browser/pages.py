"""What the browser tests share: the stand-in site, a page that records what went wrong, and the reader's steps."""

from __future__ import annotations

import html
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


# A page standing in for a built Docusaurus doc page: its real class names (navbar, the mobile menu
# .navbar-sidebar with its --show toggle, .theme-back-to-top-button, headings with ids and hash links) and
# the CSS that places them, and an inline script that opens and closes the menu as Docusaurus' does.
DOCUSAURUS_PAGE = """<!doctype html>
<html lang="en" dir="ltr" data-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | The book</title>
<style>
  :root {{ --ifm-navbar-height: 3.75rem; }}
  body {{ margin: 0; font: 16px/1.65 system-ui, sans-serif; color: #1c1e21; }}
  .navbar {{ position: sticky; top: 0; z-index: 200; height: var(--ifm-navbar-height); display: flex; align-items: center;
            padding: 0 1rem; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.1); box-sizing: border-box; }}
  .navbar__items {{ display: flex; align-items: center; gap: 1rem; }}
  .navbar__toggle {{ display: none; font-size: 1.5rem; background: none; border: 0; cursor: pointer; }}
  .navbar-sidebar__backdrop {{ position: fixed; inset: 0; background: rgba(0,0,0,.6); opacity: 0; visibility: hidden; }}
  .navbar-sidebar {{ position: fixed; top: 0; bottom: 0; left: 0; width: 83vw; background: #fff; opacity: 0;
                    visibility: hidden; transform: translate3d(-100%, 0, 0); overflow-y: auto; }}
  .navbar-sidebar--show .navbar-sidebar, .navbar-sidebar--show .navbar-sidebar__backdrop {{
    opacity: 1; visibility: visible; transform: translate3d(0, 0, 0); }}
  .menu__list {{ list-style: none; margin: 0; padding: .5rem; }}
  .menu__link {{ display: block; padding: .6rem .75rem; color: #1c1e21; }}
  main {{ max-width: 46rem; margin: 0 auto; padding: 1rem 1.5rem 6rem; }}
  .theme-back-to-top-button {{ position: fixed; right: 1.3rem; bottom: 1.8rem; width: 3rem; height: 3rem; border: 0;
                               border-radius: 50%; background: #ebedf0; z-index: 199; opacity: 0; transform: scale(1.5);
                               visibility: hidden; cursor: pointer; }}
  .theme-back-to-top-button.backToTopButtonShow {{ opacity: 1; transform: scale(1); visibility: visible; }}
  @media (max-width: 996px) {{ .navbar__toggle {{ display: inline-flex; }} .navbar__link {{ display: none; }} }}
</style>
<script src="{widget}" async{attributes}></script>
</head>
<body>
<div id="__docusaurus">
<nav aria-label="Main" class="navbar navbar--fixed-top">
  <div class="navbar__inner"><div class="navbar__items">
    <button aria-label="Toggle navigation bar" aria-expanded="false" class="navbar__toggle clean-btn" type="button">&#9776;</button>
    <a class="navbar__brand" href="/docs/intro">The book</a>
    <a class="navbar__item navbar__link" href="/docs/intro">Docs</a>
  </div></div>
  <div role="presentation" class="navbar-sidebar__backdrop"></div>
  <div class="navbar-sidebar"><ul class="menu__list">
    {menu}
  </ul></div>
</nav>
<div class="main-wrapper"><main><article><div class="theme-doc-markdown markdown">
<header><h1>{title}</h1></header>
<p>Clicks on the page's own button: <output id="clicks">0</output>
<button id="own" type="button" onclick="document.getElementById('clicks').value = +document.getElementById('clicks').value + 1">Own button</button></p>
<h2 class="anchor anchorWithStickyNavbar" id="launch-files">Launch files<a href="#launch-files" class="hash-link" aria-label="Direct link to Launch files" title="Direct link to Launch files">&#8203;</a></h2>
<p id="passage">{passage}</p>
{filler}
</div></article></main></div>
<button aria-label="Scroll back to top" class="clean-btn theme-back-to-top-button backToTopButton backToTopButtonShow" type="button"></button>
</div>
<script>
  var nav = document.querySelector(".navbar");
  document.querySelector(".navbar__toggle").onclick = function () {{ nav.classList.add("navbar-sidebar--show"); }};
  document.querySelector(".navbar-sidebar__backdrop").onclick = function () {{ nav.classList.remove("navbar-sidebar--show"); }};
</script>
</body>
</html>
"""
MENU = ["Introduction", "Getting started", "Configuration", "Deploy on a Space", "External services", "The widget",
        "Ingestion", "Retrieval and answers", "The API", "Query", "Feedback", "Troubleshooting"]


def docusaurus_page(title: str, widget: str, passage: str = "", **attributes: str) -> str:
    """The stand-in page, loading the widget with the documented tag and the given data-* attributes."""
    names = "".join(f' {name}="{html.escape(value)}"' for name, value in attributes.items())
    menu = "\n    ".join(f'<li><a class="menu__link" href="/docs/intro">{item}</a></li>' for item in MENU)
    filler = "\n".join(f"<p>Paragraph {n} of the page, long enough to scroll past the fold.</p>" for n in range(40))
    return DOCUSAURUS_PAGE.format(title=title, widget=widget, attributes=names, menu=menu, passage=passage, filler=filler)


class DocusaurusSite:
    """The stand-in site on its own port: every path under /docs/ is a stand-in page titled after it, loading
    the widget from `widget` (set it once the service runs); `?data-position=…` in a page's address adds that
    attribute to the widget's tag. `passage` is the first paragraph under the page's second heading."""

    def __init__(self, passage: str):
        import http.server
        import threading
        from urllib.parse import parse_qsl, urlsplit

        site = self
        self.widget = ""
        self.passage = passage

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                found = parts.path.startswith("/docs/")
                attributes = {name: value for name, value in parse_qsl(parts.query) if name.startswith("data-")}
                title = parts.path.strip("/").split("/")[-1].replace("-", " ").capitalize()
                body = docusaurus_page(title, site.widget, site.passage, **attributes).encode() if found else b"not found"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="docusaurus-standin", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
