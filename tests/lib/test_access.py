"""API keys on the answering routes: Bearer or X-API-Key, any configured key, nothing when unset."""

import pytest

from lib.access import configured_key_id, presented_key

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
