"""Rate limits and keys over real HTTP: exact counts at the edge, Retry-After honoured, spoofing ignored, no key in the logs."""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from lib.access import WRONG_KEYS_PER_MINUTE
from tests.hardening.checks import assert_error
from tests.hardening.conftest import running

KEY = "reader-key-f00dfeed1234"
ADMIN = "admin-key-c0ffee5678"
RATING = {"answer_id": "ans_limits", "rating": 1}


def post_feedback(http: httpx.Client, client: str, **headers) -> httpx.Response:
    """A rating from `client`, as the trusted proxy in front of the service reports it."""
    return http.post("/v1/feedback", json=RATING, headers={"X-Forwarded-For": client, **headers})


@pytest.fixture(scope="module")
def day_limited(tmp_path_factory, sparse_index):
    """Eight requests a day per client, behind one trusted proxy, with API keys: counts can't drift.

    Each test speaks for clients of its own, so they share the service.
    """
    env = {"RATE_LIMIT_PER_DAY": "8", "TRUSTED_PROXIES": "1", "API_KEYS": KEY, "ADMIN_API_KEY": ADMIN}
    with running(tmp_path_factory.mktemp("day-limited"), env, sparse_index) as service:
        yield service


def test_exactly_the_limit_gets_through_then_429_with_the_headers(day_limited):
    with httpx.Client(base_url=day_limited.url, timeout=10) as http:
        answers = [post_feedback(http, "203.0.113.1", **{"X-API-Key": KEY}) for _ in range(9)]
        assert [a.status_code for a in answers] == [201] * 8 + [429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["7", "6", "5", "4", "3", "2", "1", "0", "0"]
        assert all(a.headers["X-RateLimit-Limit"] == "8" for a in answers)
        refused = assert_error(answers[-1], 429, "rate_limited")
        assert answers[-1].headers["Retry-After"] == "10800" and int(answers[-1].headers["X-RateLimit-Reset"]) > 0
        assert "10800 s" in refused["error"]["message"]
        # Health is not limited, and another client has its own budget.
        assert all(http.get("/health").status_code == 200 for _ in range(20))
        assert "X-RateLimit-Limit" not in http.get("/health").headers
        assert post_feedback(http, "203.0.113.2", **{"X-API-Key": KEY}).status_code == 201


def test_a_spoofed_x_forwarded_for_left_of_the_trusted_hop_is_ignored(day_limited):
    with httpx.Client(base_url=day_limited.url, timeout=10) as http:
        statuses = [
            post_feedback(http, f"198.51.100.{n}, 203.0.113.50", **{"X-API-Key": KEY}).status_code for n in range(12)
        ]
    assert statuses == [201] * 8 + [429] * 4


def test_guessing_keys_costs_requests_too_and_a_valid_key_has_its_own_bucket(day_limited):
    with httpx.Client(base_url=day_limited.url, timeout=10) as http:
        guesses = [post_feedback(http, "203.0.113.60", **{"X-API-Key": f"guess-{n}"}).status_code for n in range(10)]
        assert guesses == [401] * 8 + [429] * 2
        assert post_feedback(http, "203.0.113.60", **{"X-API-Key": KEY}).status_code == 201
        # The admin route is limited as well: its key can't be guessed faster than the rest.
        admin = [http.get("/v1/feedback", headers={"X-Forwarded-For": "203.0.113.61"}).status_code for _ in range(9)]
        assert admin == [401] * 8 + [429]


def test_retry_after_is_honest_and_the_socket_address_counts_when_no_proxy_is_trusted(serve):
    service = serve({"RATE_LIMIT_PER_MINUTE": "60", "TRUSTED_PROXIES": "0"})
    with httpx.Client(base_url=service.url, timeout=10) as http:
        # A different X-Forwarded-For each time changes nothing: with no trusted proxy it is the client's own claim.
        answers = []
        for n in range(200):
            answers.append(post_feedback(http, f"192.0.2.{n % 250}"))
            if answers[-1].status_code == 429:
                break
        allowed = sum(a.status_code == 201 for a in answers)
        refused = answers[-1]
        assert refused.status_code == 429 and allowed >= 60
        wait = int(refused.headers["Retry-After"])
        print(f"rate limit: {allowed} of 60 per minute allowed in a burst (refill during it), then Retry-After {wait} s")
        time.sleep(wait)
        assert post_feedback(http, "192.0.2.1").status_code == 201


def test_keys_passwords_and_the_database_url_never_reach_the_log(serve, database_url, openai_server):
    parts = urlsplit(database_url)
    with_password = urlunsplit(parts._replace(netloc=f"postgres:pg-secret-5up3r@{parts.hostname}:{parts.port}"))
    secrets = {
        "API_KEYS": f"{KEY},second-key-99887766",
        "ADMIN_API_KEY": ADMIN,
        "OPENAI_API_KEY": "sk-test-0123456789abcdef",
        "QDRANT_API_KEY": "qdrant-key-abcdef0123",
        "DATABASE_URL": with_password,
    }
    service = serve({**secrets, "OPENAI_BASE_URL": openai_server.base_url, "LOG_LEVEL": "DEBUG"})
    wrong = "wrong-key-presented-4242"
    with httpx.Client(base_url=service.url, timeout=30) as http:
        assert http.post("/v1/query", json={"query": "What is the default chunk size?"}, headers={"X-API-Key": KEY}).status_code == 200
        assert http.post("/v1/feedback", json=RATING, headers={"Authorization": f"Bearer {KEY}"}).status_code == 201
        assert http.post("/v1/feedback", json=RATING, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
        assert http.get("/v1/feedback", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
        assert http.get("/v1/feedback", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
        openai_server.fail_next(401, times=4)  # the model refusing the key is logged: the key must not be
        assert http.post("/v1/query", json={"query": "What is the default chunk size?"}, headers={"X-API-Key": KEY}).status_code == 200
        assert http.get("/health").status_code in (200, 503)
    openai_server.reset()
    log = service.log()
    for secret in [*secrets.values(), "pg-secret-5up3r", "second-key-99887766", KEY, wrong]:
        assert secret not in log, f"{secret[:6]}… is in the log"
    keyed = [line for line in log.splitlines() if '"route": "/v1/feedback"' in line and '"status": 201' in line]
    assert keyed and '"key_id": "' in keyed[0]


METRICS = "metrics-key-0ddba11f00d"
KEYED_ROUTES = [
    ("POST", "/v1/query", {"query": "What is the default chunk size?"}, KEY),
    ("POST", "/v1/feedback", RATING, KEY),
    ("GET", "/v1/feedback", None, ADMIN),
    ("GET", "/v1/admin/analytics", None, ADMIN),
    ("GET", "/metrics", None, METRICS),
]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, sparse_index):
    """Every kind of key set, no rate limit, behind one trusted proxy: each test speaks for clients of its own."""
    env = {"TRUSTED_PROXIES": "1", "API_KEYS": KEY, "ADMIN_API_KEY": ADMIN, "METRICS_API_KEY": METRICS}
    with running(tmp_path_factory.mktemp("keyed"), env, sparse_index) as service:
        yield service


@pytest.mark.parametrize("method, path, body, key", KEYED_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in KEYED_ROUTES])
def test_wrong_keys_on_any_keyed_route_cost_the_client_that_route_for_a_while_the_right_key_too(keyed, method, path, body, key):
    client = f"198.51.100.{KEYED_ROUTES.index((method, path, body, key)) + 10}"
    with httpx.Client(base_url=keyed.url, timeout=30) as http:

        def send(presented: str, address: str = client) -> httpx.Response:
            headers = {"Authorization": f"Bearer {presented}", "X-Forwarded-For": address}
            return http.request(method, path, json=body, headers=headers)

        wrong = [send(f"wrong-key-{n:02}-0123456789").status_code for n in range(WRONG_KEYS_PER_MINUTE)]
        refused = send("wrong-key-xx-0123456789")
        right_but_refused = send(key)
        elsewhere = send(key, "198.51.100.99")
    assert wrong == [401] * WRONG_KEYS_PER_MINUTE
    assert_error(refused, 429, "rate_limited")
    assert_error(right_but_refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert elsewhere.status_code in (200, 201)


def test_the_access_log_s_key_id_is_no_plain_hash_of_the_key(keyed):
    with httpx.Client(base_url=keyed.url, timeout=30) as http:
        answered = http.post("/v1/feedback", json=RATING, headers={"X-API-Key": KEY, "X-Request-ID": "key-id-check"})
    assert answered.status_code == 201
    [line] = [json.loads(line) for line in keyed.log().splitlines() if '"key-id-check"' in line]
    assert len(line["key_id"]) == 16 and line["key_id"] != hashlib.sha256(KEY.encode()).hexdigest()[:16]
