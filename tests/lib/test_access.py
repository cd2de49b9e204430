"""API keys on the answering routes: Bearer or X-API-Key, any configured key, nothing when unset."""

import hashlib
import subprocess
import sys

import pytest

from lib.access import WrongKeys, configured_key_id, describe_key_ids, key_id, presented_key
from lib.errors import RateLimited
from tests.service import REPO

KEYS = ("first-key", "second-key")


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer first-key"}, {"authorization": "bearer second-key"}, {"x-api-key": "first-key"}],
)
def test_accepts_a_configured_key_either_way(headers):
    assert configured_key_id(headers, KEYS)


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer"}, {"authorization": "Basic first-key"}, {"authorization": "Bearer first-ke"}, {"x-api-key": "FIRST-KEY"}],
)
def test_refuses_a_missing_or_wrong_key(headers):
    assert configured_key_id(headers, KEYS) is None


def test_asks_for_nothing_when_no_keys_are_configured():
    assert configured_key_id({}, ()) is None


def test_the_key_id_is_not_the_key():
    key_id = configured_key_id({"x-api-key": "first-key"}, KEYS)
    assert "first" not in key_id and key_id == configured_key_id({"authorization": "Bearer first-key"}, KEYS)
    assert presented_key({"authorization": "Bearer  spaced "}) == "spaced"


def test_a_key_id_is_no_plain_hash_of_the_key_so_a_short_key_cannot_be_found_from_the_logs():
    assert key_id("k") != hashlib.sha256(b"k").hexdigest()[:16]
    assert key_id("first-key") == key_id("first-key") and key_id("first-key") != key_id("second-key")


def test_key_ids_are_new_in_each_process():
    command = [sys.executable, "-c", "from lib.access import key_id; print(key_id('first-key'))"]
    ids = {subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip() for _ in range(2)}
    assert len(ids) == 2 and key_id("first-key") not in ids


def test_the_start_up_line_says_which_key_has_which_id_without_the_keys():
    line = describe_key_ids(KEYS)
    assert f"key 1 is {key_id('first-key')}" in line and f"key 2 is {key_id('second-key')}" in line
    assert "first-key" not in line and describe_key_ids(()) is None


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_keys_are_allowed_up_to_the_limit_then_refused_until_one_comes_back():
    clock = Clock()
    wrong = WrongKeys(per_minute=3, clock=clock)
    for _ in range(3):
        wrong.check("192.0.2.1")
        wrong.failed("192.0.2.1")
    with pytest.raises(RateLimited) as caught:
        wrong.check("192.0.2.1")
    wrong.check("192.0.2.2")  # another client has its own count
    assert caught.value.headers["Retry-After"] == "20" and caught.value.headers["X-RateLimit-Remaining"] == "0"
    clock.now += 20
    wrong.check("192.0.2.1")
