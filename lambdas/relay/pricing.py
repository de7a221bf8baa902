"""Prices of a request from the catalog: what it cost (its usage block), and the most it can
cost before it runs.

The estimate is an upper bound (input guessed generously, the full `max_tokens` of output, at
the dearest model and premium of the request's chain), so a budget reserved against it can be
overspent by at most one request's worth, whichever route answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from relay.catalog import MILLION, Model


def tokens(usage: Mapping[str, Any], key: str) -> int:
    """A token count of a usage block; zero where absent or null."""
    value = usage.get(key)
    return value if isinstance(value, int) else 0


def cost_usd(model: Model, usage: Mapping[str, Any], premium: bool) -> Decimal:
    """Cost of the tokens in an Anthropic `usage` block; `premium` for regional endpoints.

    Cache writes are priced by their TTL when the usage block splits them (`cache_creation`);
    otherwise all cache writes are taken as 5-minute writes, the default TTL.
    """
    prices = model.prices
    split = usage.get("cache_creation")
    if isinstance(split, Mapping):
        write_5m = tokens(split, "ephemeral_5m_input_tokens")
        write_1h = tokens(split, "ephemeral_1h_input_tokens")
    else:
        write_5m, write_1h = tokens(usage, "cache_creation_input_tokens"), 0
    total = (
        tokens(usage, "input_tokens") * prices.input
        + tokens(usage, "output_tokens") * prices.output
        + write_5m * prices.cache_write_5m
        + write_1h * prices.cache_write_1h
        + tokens(usage, "cache_read_input_tokens") * prices.cache_read
    ) / MILLION
    if premium:
        total *= 1 + model.regional_premium
    return total


# Claude averages 3.5-4 characters of English per token; 2 keeps the guess above the real count
# for code and most scripts. Images cost at most about 1,600 tokens each.
_CHARS_PER_TOKEN = 2
_IMAGE_TOKENS = 1_600


def estimate_input_tokens(body: object) -> int:
    """A generous token count for a Messages body, without a tokenizer."""
    if isinstance(body, dict):
        source = body.get("source")
        if body.get("type") == "image" and isinstance(source, dict):
            return _IMAGE_TOKENS
        return sum(estimate_input_tokens(v) for v in body.values())
    if isinstance(body, list):
        return sum(estimate_input_tokens(v) for v in body)
    if isinstance(body, str):
        return math.ceil(len(body) / _CHARS_PER_TOKEN)
    return 1


def estimate_usd(model: Model, body: dict[str, Any], premium: bool) -> Decimal:
    """The most a request can cost: every input token at the dearest input rate (a 1-hour cache
    write), and `max_tokens` of output."""
    prices = model.prices
    dearest_input = max(prices.input, prices.cache_write_5m, prices.cache_write_1h)
    output = int(body.get("max_tokens") or model.max_output_tokens)
    total = (estimate_input_tokens(body) * dearest_input + output * prices.output) / MILLION
    return total * (1 + model.regional_premium) if premium else total


def estimate_chain_usd(chain: Iterable[tuple[Model, bool]], body: dict[str, Any]) -> Decimal:
    """The most a request can cost on any route of its chain (each a model and whether it
    carries the regional premium): a fallback to a dearer model or endpoint is settled at its
    own price, so the reservation must cover it."""
    return max(estimate_usd(model, body, premium) for model, premium in chain)
