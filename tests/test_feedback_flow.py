"""A reader's thumbs-down, followed end to end on a real PostgreSQL: answer, rating, admin view, export."""

import json
import shutil
import subprocess
import sys
import time
import uuid

import httpx

from tests.service import REPO, Service

QUESTION = "How do I keep a free Space from going to sleep?"


def test_a_thumbs_down_leads_to_the_question_its_chunks_and_the_reason(tmp_path, sparse_index, database_url):
    data_dir = tmp_path / "data"
    shutil.copytree(sparse_index.data_dir, data_dir)
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "ADMIN_API_KEY": "admin-key-0123456789"}
    with Service(env) as service, httpx.Client(base_url=service.url, timeout=10) as http:
        answer = http.post("/v1/query", json={"query": QUESTION}).json()
        retrieved = [source["chunk_id"] for source in answer["sources"]]
        rating = {"feedback_id": str(uuid.uuid4()), "answer_id": answer["id"], "rating": -1, "reason": "incomplete",
                  "comment": "does not say how often to ping"}
        assert http.post("/v1/feedback", json=rating).status_code == 201
        admin = {"Authorization": "Bearer admin-key-0123456789"}
        deadline = time.monotonic() + 10  # the answer log is written off the request's path
        while time.monotonic() < deadline:
            [item] = http.get("/v1/feedback", params={"rating": -1}, headers=admin).json()["items"]
            if item.get("answer_known"):
                break
            time.sleep(0.1)
        summary = http.get("/v1/feedback", params={"view": "summary"}, headers=admin).json()
    assert item["answer_known"] and item["reason"] == "incomplete" and item["comment"] == rating["comment"]
    assert item["query"] == QUESTION
    assert [entry["chunk_id"] for entry in item["retrieved"]] == retrieved and item["mode"] == "extractive"
    assert summary["feedback"] and summary["most_down_voted"][0]["query"] == QUESTION

    export = subprocess.run(
        [sys.executable, "-m", "lib.export_cases", "--rating", "-1"], cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "DATA_DIR": str(data_dir)},
        capture_output=True, text=True, timeout=60,
    )
    [case] = [json.loads(line) for line in export.stdout.splitlines()]
    assert export.returncode == 0 and case["query"] == QUESTION and case["reason"] == "incomplete"
    assert case["retrieved"] == retrieved and case["answer_id"] == answer["id"]
