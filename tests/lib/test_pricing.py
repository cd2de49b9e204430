"""MODEL_PRICES: its format, the prices of dated model snapshots, and costs that are unknown rather than zero."""

import pytest

from lib import pricing
from lib.pricing import Price

PRICES = {"gpt-4o-mini": Price(prompt=0.15, completion=0.60)}


def test_reads_a_comma_list_of_model_prompt_and_completion_prices():
    assert pricing.parse(" gpt-4o-mini=0.15/0.60, my-model = 2.5 / 10 ,") == (
        ("gpt-4o-mini", Price(prompt=0.15, completion=0.6)),
        ("my-model", Price(prompt=2.5, completion=10.0)),
    )


@pytest.mark.parametrize("text", ["gpt-4o-mini", "gpt-4o-mini=0.15", "=1/2", "x=a/b", "x=1.2.3/4", "x=-1/2", "x=20000/1", "x=1/2/3"])
def test_refuses_what_is_not_model_equals_two_prices(text):
    with pytest.raises(ValueError):
        pricing.parse(text)


def test_a_dated_snapshot_costs_what_its_model_costs():
    assert pricing.price_of("gpt-4o-mini-2024-07-18", PRICES) == PRICES["gpt-4o-mini"]
    assert pricing.price_of("gpt-4o-mini-preview", PRICES) is None
    assert pricing.price_of(None, PRICES) is None


def test_costs_in_dollars_per_million_tokens():
    assert pricing.cost("gpt-4o-mini", 1_000_000, 1_000_000, PRICES) == pytest.approx(0.75)
    assert pricing.cost("gpt-4o-mini", 1000, 200, PRICES) == pytest.approx(0.00027)


def test_no_tokens_cost_nothing_and_an_unpriced_model_costs_an_unknown_amount():
    assert pricing.cost("mystery", 0, 0, PRICES) == 0.0
    assert pricing.cost("mystery", 10, 0, PRICES) is None
    assert pricing.cost(None, 10, 0, PRICES) is None
