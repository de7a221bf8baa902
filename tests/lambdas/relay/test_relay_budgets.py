"""Budgets hold when a fallback answers with a dearer model: the reservation covers the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import DEFAULT_MODEL, Routing, by_alias
from relay.settings import parse_fallbacks
from relay.targets import bedrock_target

MODEL = DEFAULT_MODEL.alias
DEARER = by_alias("claude-opus-4-1")
MAX_TOKENS = 20


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    fallbacks = parse_fallbacks(json.dumps({MODEL: [f"model:{DEARER.alias}"]}))
    with running_gateway(fallbacks=fallbacks, retry_attempts=1, breaker_cooldown=600) as running:
        # The primary's breaker is open (posted by "another instance"): every request is
        # served by the dearer fallback.
        primary = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL)
        running.store.trip(f"bedrock/us-east-1/{primary.model_id}", 600)
        yield running


def test_fifty_concurrent_requests_on_a_dearer_fallback_overspend_by_at_most_one(
    gateway,
) -> None:
    assert DEARER.prices.output > DEFAULT_MODEL.prices.output * 5
    budget = Decimal("0.01")
    secret, key = gateway.store.create_key("team-a", daily_usd=budget)
    client = gateway.client_for(secret)

    def one(n: int) -> bool:
        try:
            raw = client.messages.with_raw_response.create(
                model=MODEL, max_tokens=MAX_TOKENS, messages=user(f"spend {n}")
            )
        except anthropic.RateLimitError:
            return False
        assert raw.headers["x-relay-fallback"] == DEARER.anthropic_id
        return True

    with ThreadPoolExecutor(50) as pool:
        admitted = sum(pool.map(one, range(50)))
    records = gateway.store.usage(key.key_id)
    assert len(records) == admitted > 0
    assert {r.model for r in records} == {DEARER.anthropic_id}
    spent = gateway.store.spent(key.key_id, f"day#{datetime.now(UTC):%Y-%m-%d}")
    assert spent == sum(r.cost_usd for r in records)
    assert spent <= budget + max(r.cost_usd for r in records)
