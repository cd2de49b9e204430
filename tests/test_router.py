"""The whole app over real HTTP: `python router.py` on a free loopback port, as a host runs it."""

import shutil
import uuid

import httpx
import pytest

from tests.service import Service

QUESTION = "How many tokens does a chunk have by default?"


@pytest.fixture(scope="module")
def service(tmp_path_factory, dense_index, openai_server):
    data_dir = tmp_path_factory.mktemp("router") / "data"
    shutil.copytree(dense_index.data_dir, data_dir)
    env = {"DATA_DIR": str(data_dir), "OPENAI_BASE_URL": openai_server.base_url, "ADMIN_API_KEY": "admin-key-0123456789"}
    with Service(env, log_path=data_dir.parent / "service.log") as running:
        yield running


@pytest.fixture
def http(service, fake_openai):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        yield client


def assert_error(response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    if field:
        assert body["error"]["field"] == field


def test_health_answers_get_and_head(http):
    got = http.get("/health")
    head = http.head("/health")
    assert got.status_code == 200 and got.json()["status"] == "healthy"
    assert head.status_code == 200 and head.content == b""


def test_query_answers_with_sources(http, fake_openai):
    fake_openai.reply = "500 tokens [1]."
    response = http.post("/v1/query", json={"query": QUESTION})
    body = response.json()
    assert response.status_code == 200 and body["answer"] == "500 tokens [1]." and body["sources"]
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_keeps_a_well_formed_request_id_and_replaces_a_bad_one(http):
    assert http.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = http.get("/health", headers={"X-Request-ID": "bad id\twith tab"}).headers["X-Request-ID"]
    assert replaced != "bad id\twith tab" and len(replaced) == 32


@pytest.mark.parametrize(
    "body, field",
    [({}, "query"), ({"query": ""}, "query"), ({"query": "x", "top_k": 99}, "top_k"), ({"query": "x", "stream": "no"}, "stream")],
)
def test_query_validation_errors_name_the_field(http, body, field):
    assert_error(http.post("/v1/query", json=body), 400, "invalid_request", field)


def test_refuses_what_is_not_a_json_object(http):
    assert_error(http.post("/v1/query", content=b"{nope", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_error(http.post("/v1/query", content=b"query=x", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")


def test_refuses_a_body_over_the_limit_before_reading_it(http):
    huge = b'{"query": "' + b"x" * 70_000 + b'"}'
    assert_error(http.post("/v1/query", content=huge, headers={"Content-Type": "application/json"}), 413, "payload_too_large")


def test_unknown_routes_and_methods_get_the_error_shape(http):
    assert_error(http.get("/nowhere"), 404, "not_found")
    response = http.get("/v1/query")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(http.delete("/health"), 405, "method_not_allowed")


def test_feedback_is_stored_once_and_listed_for_the_admin(http):
    feedback_id = str(uuid.uuid4())
    rating = {"feedback_id": feedback_id, "answer_id": "ans_http", "rating": -1, "reason": "unclear"}
    assert http.post("/v1/feedback", json=rating).status_code == 201
    assert http.post("/v1/feedback", json=rating).status_code == 200
    assert_error(http.get("/v1/feedback"), 401, "unauthorized")
    listed = http.get("/v1/feedback", params={"reason": "unclear"}, headers={"Authorization": "Bearer admin-key-0123456789"})
    assert [item["feedback_id"] for item in listed.json()["items"]] == [feedback_id]


def test_serves_openapi_and_swagger_ui_with_no_internet(http):
    spec = http.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/v1/query", "/health", "/v1/feedback"} <= set(spec["paths"])
    page = http.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"):
        assert http.get(f"/docs/assets/{asset}").status_code == 200


def test_serves_the_chat_page_and_the_widget(http):
    assert http.get("/").headers["Content-Type"].startswith("text/html")
    assert http.get("/widget.js").headers["Content-Type"].startswith("text/javascript")


def test_logs_one_json_line_per_request(service, http):
    http.get("/health", headers={"X-Request-ID": "log-line-check"})
    lines = [line for line in service.log().splitlines() if "log-line-check" in line]
    assert lines and '"route": "/health"' in lines[-1] and '"status": 200' in lines[-1]


def test_api_keys_guard_the_answering_routes_only(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "API_KEYS": "reader-key-0123456789,widget-key-0123456789"}
    with Service(env) as running, httpx.Client(base_url=running.url, timeout=10) as client:
        assert_error(client.post("/v1/query", json={"query": "hi there"}), 401, "unauthorized")
        assert_error(client.post("/v1/feedback", json={"answer_id": "a", "rating": 1}), 401, "unauthorized")
        keyed = client.post("/v1/feedback", json={"answer_id": "a", "rating": 1}, headers={"X-API-Key": "widget-key-0123456789"})
        assert keyed.status_code == 201
        assert client.get("/health").status_code in (200, 503) and client.get("/openapi.json").status_code == 200
