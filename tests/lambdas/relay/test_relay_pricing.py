"""USD cost per request from the catalog's prices."""

from __future__ import annotations

from decimal import Decimal

from relay.catalog import HAIKU_4_5, MILLION
from relay.pricing import cost_usd

P = HAIKU_4_5.prices


def test_input_and_output_tokens_at_list_price() -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500}
    assert cost_usd(HAIKU_4_5, usage, premium=False) == (1000 * P.input + 500 * P.output) / MILLION


def test_cache_reads_and_writes_are_priced_separately() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 0,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 3000,
    }
    expected = (10 * P.input + 2000 * P.cache_write_5m + 3000 * P.cache_read) / MILLION
    assert cost_usd(HAIKU_4_5, usage, premium=False) == expected


def test_one_hour_cache_writes_use_their_price_when_the_usage_splits_them() -> None:
    usage = {
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    }
    expected = (100 * P.cache_write_5m + 200 * P.cache_write_1h) / MILLION
    assert cost_usd(HAIKU_4_5, usage, premium=False) == expected


def test_regional_endpoints_add_the_models_premium() -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    assert HAIKU_4_5.regional_premium > 0
    assert cost_usd(HAIKU_4_5, usage, premium=True) == P.input * (1 + HAIKU_4_5.regional_premium)


def test_missing_or_null_counts_cost_nothing() -> None:
    assert cost_usd(HAIKU_4_5, {"input_tokens": None}, premium=False) == Decimal(0)
