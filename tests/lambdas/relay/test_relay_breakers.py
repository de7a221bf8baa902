"""Breakers in the relay: one per route and model, opened only by provider-side failures, and
shared between instances through the table."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import DEFAULT_MODEL, MODELS, Routing
from relay.settings import parse_fallbacks
from relay.targets import bedrock_target

MODEL = DEFAULT_MODEL.alias
OTHER = next(m for m in MODELS if m.served and m is not DEFAULT_MODEL)
FALLBACK_REGION = "us-west-2"
ATTEMPTS = 2
THRESHOLD = 4


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A fresh relay per test (breakers last the cool-down, longer than a test)."""
    fallbacks = parse_fallbacks(json.dumps({MODEL: [f"bedrock:{FALLBACK_REGION}"]}))
    with running_gateway(
        fallbacks=fallbacks,
        retry_attempts=ATTEMPTS,
        retry_base_delay=0.001,
        retry_max_delay=0.002,
        breaker_threshold=THRESHOLD,
        breaker_cooldown=60,
    ) as running:
        yield running


def backend(gateway: Gateway, model: str) -> str:
    raw = gateway.client().messages.with_raw_response.create(
        model=model, max_tokens=5, messages=user("x")
    )
    return raw.headers["x-relay-backend"]


def test_one_model_failing_on_a_route_does_not_move_another_model(gateway) -> None:
    for _ in range(THRESHOLD // ATTEMPTS):
        gateway.simulator.state.faults.inject(["internal"] * ATTEMPTS)
        with pytest.raises(anthropic.InternalServerError):
            gateway.client().messages.create(model=OTHER.alias, max_tokens=5, messages=user("x"))
    # OTHER's breaker on us-east-1 is open now; MODEL's is not.
    assert backend(gateway, MODEL) == "bedrock/us-east-1"


def test_access_denied_moves_the_request_on_without_opening_the_breaker(gateway) -> None:
    for _ in range(THRESHOLD + 1):
        gateway.simulator.state.faults.inject(["access_denied"])
        assert backend(gateway, MODEL) == f"bedrock/{FALLBACK_REGION}"
    assert backend(gateway, MODEL) == "bedrock/us-east-1"


def test_provider_failures_open_the_breaker_of_that_route_and_model(gateway) -> None:
    for _ in range(THRESHOLD // ATTEMPTS):
        gateway.simulator.state.faults.inject(["unavailable"] * ATTEMPTS)
        assert backend(gateway, MODEL) == f"bedrock/{FALLBACK_REGION}"
    # Skipped while open, for this model, in this instance and (via the table) in others.
    assert backend(gateway, MODEL) == f"bedrock/{FALLBACK_REGION}"
    primary = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL)
    other = bedrock_target(OTHER, "us-east-1", Routing.GLOBAL)
    assert gateway.store.is_open(f"bedrock/us-east-1/{primary.model_id}")
    assert not gateway.store.is_open(f"bedrock/us-east-1/{other.model_id}")
