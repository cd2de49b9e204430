"""What model tokens cost: MODEL_PRICES read into prices per model, and the estimate for a count of tokens.

MODEL_PRICES is a comma list of `model=prompt/completion`, each price in US
dollars per million tokens, e.g. `gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10`. It
adds to the embedded defaults below, or replaces the default of a model it
names. A model with no price has an unknown cost: never a cost of zero.
"""

from __future__ import annotations

import re
from typing import Mapping

from attrs import frozen

MILLION = 1_000_000
MAX_PRICE = 10_000.0  # USD per million tokens; a higher one is a typo
# OpenAI answers with a dated snapshot of the model asked for (gpt-4o-mini-2024-07-18).
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_ENTRY = re.compile(r"\s*([^=\s][^=]*?)\s*=\s*([0-9.]+)\s*/\s*([0-9.]+)\s*")


@frozen
class Price:
    """US dollars per million prompt tokens and per million completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / MILLION


# OpenAI's list price of the default chat model (OPENAI_GENERATION_MODEL), as of 2025.
DEFAULT_PRICES: dict[str, Price] = {"gpt-4o-mini": Price(prompt=0.15, completion=0.60)}


def parse(text: str) -> tuple[tuple[str, Price], ...]:
    """MODEL_PRICES as (model, price) pairs; a ValueError says which entry is wrong and why."""
    pairs = []
    for entry in filter(str.strip, text.split(",")):
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise ValueError(
                f"must be a comma list of model=prompt/completion in USD per million tokens, "
                f"such as gpt-4o-mini=0.15/0.60; got {entry.strip()!r}"
            )
        model, prompt, completion = match.groups()
        try:
            price = Price(prompt=float(prompt), completion=float(completion))
        except ValueError:
            raise ValueError(f"has a price that is not a number in {entry.strip()!r}") from None
        if not (price.prompt <= MAX_PRICE and price.completion <= MAX_PRICE):
            raise ValueError(f"has a price over {MAX_PRICE:g} USD per million tokens in {entry.strip()!r}")
        pairs.append((model, price))
    return tuple(pairs)


def price_of(model: str | None, prices: Mapping[str, Price]) -> Price | None:
    """The model's price, or its undated name's (gpt-4o-mini for gpt-4o-mini-2024-07-18); None when unknown."""
    if model is None:
        return None
    return prices.get(model) or prices.get(_SNAPSHOT.sub("", model))


def cost(model: str | None, prompt_tokens: int, completion_tokens: int, prices: Mapping[str, Price]) -> float | None:
    """The estimated cost in USD; no tokens cost nothing, and tokens of a model without a price are unknown (None)."""
    if prompt_tokens == 0 and completion_tokens == 0:
        return 0.0
    price = price_of(model, prices)
    return price.cost(prompt_tokens, completion_tokens) if price is not None else None
