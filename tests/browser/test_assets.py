"""The page's and the widget's files: what they may never contain, and how the service serves them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from tests.service import REPO

STATIC = REPO / "lib" / "static"
WIDGET = STATIC / "widget.js"
PAGE = STATIC / "chat" / "index.html"
ADMIN = STATIC / "admin"

# Every way a script can turn a string into markup or code.
PARSES_TEXT = ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment",
               "DOMParser", "eval(", "new Function", "setHTML", "srcdoc"]


def _code(text: str) -> str:
    """The script without its comments, so a comment may name what the code must not do."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", text)


@pytest.mark.parametrize("construct", PARSES_TEXT)
def test_the_widget_never_parses_text_as_markup_or_code(construct):
    assert construct not in _code(WIDGET.read_text())


@pytest.mark.parametrize("construct", PARSES_TEXT)
def test_the_analytics_page_never_parses_text_as_markup_or_code(construct):
    assert construct not in _code((ADMIN / "admin.js").read_text())


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []
        self.inline = []  # scripts without src, style elements, style and on* attributes

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, value) for name, value in attrs if name in ("src", "href") and value is not None]
        names = [name for name, _ in attrs]
        if (tag == "script" and "src" not in names) or tag == "style":
            self.inline.append(tag)
        self.inline += [f"{tag} {name}" for name in names if name == "style" or name.startswith("on")]


def test_the_chat_page_loads_only_its_own_files():
    references = _References()
    references.feed(PAGE.read_text())
    assert ("script", "widget.js") in references.found
    for tag, value in references.found:
        assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", value, re.I), f"<{tag}> loads {value} from elsewhere"
    for asset in [STATIC / "chat" / "chat.css", WIDGET]:
        code = _code(asset.read_text())
        assert "@import" not in code and "url(" not in code, f"{asset.name} loads something"


def test_the_service_serves_the_page_its_styles_and_the_widget(service):
    page = httpx.get(service.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.text  # the page's own policy: nothing runs that it didn't bring
    styles = httpx.get(service.url + "/chat/chat.css")
    assert styles.status_code == 200 and styles.headers["content-type"].startswith("text/css")
    widget = httpx.get(service.url + "/widget.js")
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert widget.text == WIDGET.read_text()


def test_the_analytics_page_loads_only_its_own_files_and_runs_nothing_inline():
    references = _References()
    references.feed((ADMIN / "index.html").read_text())
    assert ("script", "admin/admin.js") in references.found and ("link", "admin/admin.css") in references.found
    for tag, value in references.found:
        assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", value, re.I), f"<{tag}> loads {value} from elsewhere"
    assert references.inline == []
    for asset in [ADMIN / "admin.css", ADMIN / "admin.js"]:
        code = _code(asset.read_text())
        assert "@import" not in code and "url(" not in code, f"{asset.name} loads something"


def test_the_service_serves_the_analytics_page_with_a_strict_policy(service):
    page = httpx.get(service.url + "/admin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    script = httpx.get(service.url + "/admin/admin.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    styles = httpx.get(service.url + "/admin/admin.css")
    assert styles.status_code == 200 and styles.headers["content-type"].startswith("text/css")
