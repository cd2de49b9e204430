"""No acknowledged rating is ever lost: ratings sent without pause over real HTTP while PostgreSQL is stopped,
crashed and started again, with hostile requests among them.

Each rating has its own feedback_id. One answered 201 (or 200) must be in
the table; one answered 503 may or may not be (the write can land after the
database stopped answering in time), and is sent again once the database is
back, as the widget does (again after each 503's Retry-After: the database's
breaker may still be open, or its first writes slow): the retry says 200 when
it had landed, 201 when it lands now. In the end every rating is stored
exactly once.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import httpx

from tests.hardening.checks import eventually
from tests.hardening.conftest import running
from tests.pg import admin_connection, fresh_database

ADMIN = "admin-ratings-key-0123"
SENDERS = 8
OUTAGE_SECONDS = 0.4  # each outage, and the time between two
HOSTILE = [
    ("GET", "/v1/feedback?before=" + base64.urlsafe_b64encode(json.dumps(["9999-12-31T23:59:59-14:00", "x"]).encode()).decode().rstrip("="), None),
    ("GET", "/v1/feedback?until=9999-12-31T23:59:59-14:00", None),
    ("POST", "/v1/feedback", b'{"answer_id": "ans_x", "rating": -1, "sources": [{"title": "\\ud800"}]}'),
]


def test_no_acknowledged_rating_is_lost_through_a_stop_a_crash_and_restarts(tmp_path, sparse_index, pg_cluster):
    cluster = pg_cluster  # the session's own: stopped and crashed here, as test_faults.py stops it
    with fresh_database(cluster.url) as url:
        env = {"DATABASE_URL": url, "DATABASE_TIMEOUT": "1", "BREAKER_COOLDOWN_SECONDS": "0.5", "ADMIN_API_KEY": ADMIN}
        with running(tmp_path, env, sparse_index) as service:
            answered: dict[str, int] = {}
            lock = threading.Lock()
            stop = threading.Event()

            def send() -> None:
                with httpx.Client(base_url=service.url, timeout=10) as http:
                    while not stop.is_set():
                        feedback_id = str(uuid.uuid4())
                        rating = {"feedback_id": feedback_id, "answer_id": "ans_rated", "rating": 1}
                        status = http.post("/v1/feedback", json=rating).status_code
                        with lock:
                            answered[feedback_id] = status
                        if status == 503:
                            time.sleep(0.05)  # a client backs off; this one comes back for the rating later

            senders = [threading.Thread(target=send) for _ in range(SENDERS)]
            for sender in senders:
                sender.start()
            hostile = []
            with httpx.Client(base_url=service.url, timeout=10, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
                for outage in ("fast", "immediate", "fast"):
                    time.sleep(OUTAGE_SECONDS)
                    hostile += [http.request(method, path, content=body, headers={"Content-Type": "application/json"}).status_code for method, path, body in HOSTILE]
                    cluster.stop(outage)
                    time.sleep(OUTAGE_SECONDS)
                    cluster.start()
                time.sleep(OUTAGE_SECONDS)
            stop.set()
            for sender in senders:
                sender.join(30)

            with httpx.Client(base_url=service.url, timeout=10) as http:
                eventually(lambda: http.get("/health").json()["services"]["database"], lambda state: state == "healthy")
                unsure = [feedback_id for feedback_id, status in answered.items() if status == 503]
                retried = {feedback_id: _send_again(http, feedback_id) for feedback_id in unsure}
            log = service.log()

        connection = admin_connection(url)
        try:
            stored = [row[0] for row in connection.run("SELECT feedback_id FROM feedback")]
        finally:
            connection.close()

    acknowledged = {feedback_id for feedback_id, status in answered.items() if status in (200, 201)}
    lost = acknowledged - set(stored)
    landed_anyway = sum(status == 200 for status in retried.values())
    print(
        f"ratings: {len(answered)} sent through 3 outages (2 stops, 1 crash), {len(acknowledged)} acknowledged, "
        f"{len(lost)} of them lost; {len(unsure)} answered 503, of which {landed_anyway} had landed (the retry said 200)"
        f" and {len(unsure) - landed_anyway} landed on the retry; {len(stored)} rows, each once"
    )
    assert set(answered.values()) <= {201, 503} and set(retried.values()) <= {200, 201}
    assert not lost and len(stored) == len(set(stored)) == len(answered)
    assert len(acknowledged) > 20 and unsure  # ratings went through, and the outages came while they were sent
    assert all(status == 400 for status in hostile), hostile
    assert '"status": 500' not in log


def _send_again(http: httpx.Client, feedback_id: str, attempts: int = 10) -> int:
    """A rating answered 503, sent again as the widget sends it: after each 503, once its Retry-After has passed."""
    for _ in range(attempts):
        response = http.post("/v1/feedback", json={"feedback_id": feedback_id, "answer_id": "ans_rated", "rating": 1})
        if response.status_code != 503:
            return response.status_code
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 2.0))
    return 503
