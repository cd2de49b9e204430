"""API keys on the answering routes: Bearer or X-API-Key, any configured key, nothing when unset."""

import pytest

from lib.access import presented_key, require_api_key
from lib.errors import Unauthorized

KEYS = ("first-key", "second-key")


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer first-key"}, {"authorization": "bearer second-key"}, {"x-api-key": "first-key"}],
)
def test_accepts_a_configured_key_either_way(headers):
    assert require_api_key(headers, KEYS)


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer"}, {"authorization": "Basic first-key"}, {"authorization": "Bearer first-ke"}, {"x-api-key": "FIRST-KEY"}],
)
def test_refuses_a_missing_or_wrong_key(headers):
    with pytest.raises(Unauthorized) as caught:
        require_api_key(headers, KEYS)
    assert caught.value.STATUS == 401 and caught.value.headers["WWW-Authenticate"] == "Bearer"


def test_asks_for_nothing_when_no_keys_are_configured():
    assert require_api_key({}, ()) is None


def test_the_key_id_is_not_the_key():
    key_id = require_api_key({"x-api-key": "first-key"}, KEYS)
    assert "first" not in key_id and key_id == require_api_key({"authorization": "Bearer first-key"}, KEYS)
    assert presented_key({"authorization": "Bearer  spaced "}) == "spaced"
