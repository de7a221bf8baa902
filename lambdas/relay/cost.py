"""USD cost of one request from its usage block and the catalog's prices."""

from __future__ import annotations

from collections.abc import Mapping
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
