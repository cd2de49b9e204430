"""Methods over real HTTP, route by route: HEAD wherever GET is, and the files and documents take nothing else.

The serve step decides both for every host (tests/lib/hosts/test_serve.py);
this checks every route the adversarial review found wrong, through uvicorn.
"""

from __future__ import annotations

import httpx
import pytest

from tests.hardening.checks import assert_error
from tests.hardening.conftest import running

ADMIN = "admin-methods-key-0123"
METRICS = "metrics-methods-key-0123"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
GET_ROUTES = [
    ("/", {}),
    ("/widget.js", {}),
    ("/admin", {}),
    ("/docs", {}),
    ("/openapi.json", {}),
    ("/health", {}),
    ("/metrics", {"Authorization": f"Bearer {METRICS}"}),
    ("/v1/admin/analytics", AS_ADMIN),
    ("/v1/feedback", AS_ADMIN),
    ("/chat/chat.css", {}),
    ("/admin/admin.js", {}),
    ("/docs/assets/swagger-ui.css", {}),
]
FILES = ["/", "/widget.js", "/admin", "/docs", "/openapi.json", "/chat/chat.css", "/admin/admin.js", "/docs/assets/swagger-ui.css"]


@pytest.fixture(scope="module")
def http(tmp_path_factory, sparse_index):
    env = {"ADMIN_API_KEY": ADMIN, "METRICS_API_KEY": METRICS}
    with running(tmp_path_factory.mktemp("methods"), env, sparse_index) as service:
        with httpx.Client(base_url=service.url, timeout=30) as client:
            yield client


@pytest.mark.parametrize("path, headers", GET_ROUTES, ids=[path for path, _ in GET_ROUTES])
def test_head_answers_as_get_does_without_the_body(http, path, headers):
    got, head = http.get(path, headers=headers), http.head(path, headers=headers)
    assert got.status_code == head.status_code == 200 and got.content
    assert head.content == b"" and head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["X-Request-ID"] and head.headers["X-Request-ID"] != got.headers["X-Request-ID"]


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "POST", "TRACE"])
@pytest.mark.parametrize("path", FILES)
def test_a_file_or_document_takes_get_and_head_only(http, path, method):
    answered = http.request(method, path, content=b"{}", headers={"Content-Type": "application/json"})
    assert_error(answered, 405, "method_not_allowed")
    assert answered.headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", FILES)
def test_a_word_that_is_no_method_is_a_bad_request_not_the_file(http, path):
    assert_error(http.request("BREW", path), 400, "invalid_request")
