"""Savings measured, not claimed: what a request served by another model (a router's pick, a
budget downgrade) would have cost at the model asked for, from its recorded tokens.

"Asked for" is the model the client named, the downgraded model's original, or a router's
baseline (`baseline` in its config, else the dearest model it can pick).
"""

from __future__ import annotations

from decimal import Decimal

from relay.catalog import CATALOG, Catalog, Model, UnknownModelError
from relay.pricing import cost_usd
from relay.usage import UsageRecord


def baseline_usd(record: UsageRecord, served: Model, asked: Model) -> Decimal:
    """The record's cost at `asked`'s prices: its real cost scaled by the two models' prices
    for the same tokens, so the route's regional premium and cache-write TTLs carry over."""
    if asked == served or not record.cost_usd:
        return record.cost_usd
    usage = {
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_input_tokens": record.cache_read_tokens,
        "cache_creation_input_tokens": record.cache_write_tokens,
    }
    at_served = cost_usd(served, usage, premium=False)
    if not at_served:
        return record.cost_usd
    return record.cost_usd * cost_usd(asked, usage, premium=False) / at_served


def record_baseline_usd(record: UsageRecord, catalog: Catalog = CATALOG) -> Decimal:
    """`baseline_usd` of a stored record, its models looked up in `catalog` (a model the
    catalog no longer knows counts at its real cost)."""
    if not record.asked_model:
        return record.cost_usd
    try:
        served = catalog.resolve(record.model).model
        asked = catalog.resolve(record.asked_model).model
    except UnknownModelError:
        return record.cost_usd
    return baseline_usd(record, served, asked)
