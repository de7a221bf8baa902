"""Timeouts and broken connections to Bedrock, before and after a stream's first byte: each one an
Anthropic error (504 `timeout_error` up front, retried and failed over; an `error` event later),
and a usage record that says what happened."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import DEFAULT_MODEL
from relay.metering import UsageRecord
from relay.settings import parse_fallbacks
from relaykit.simulator import SimulatorConfig

MODEL = DEFAULT_MODEL.alias
READ_TIMEOUT = 0.3
# Slower than the relay's read timeout: the simulator stalls where the test wants a timeout.
STALL = 1.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway(
        read_timeout=READ_TIMEOUT,
        retry_attempts=2,
        retry_base_delay=0.01,
        fallbacks=parse_fallbacks(json.dumps({MODEL: ["bedrock:us-west-2"]})),
    ) as running:
        yield running


@pytest.fixture
def simulator_pacing(gateway: Gateway) -> Iterator[object]:
    """Lets a test change the simulator's pacing; restores it afterwards."""
    state = gateway.simulator.state
    original = state.config
    state.reset()

    def pace(config: SimulatorConfig) -> None:
        state.config = config

    yield pace
    state.config = original


def records(gateway: Gateway, key_id: str, expected: int) -> list[UsageRecord]:
    deadline = time.monotonic() + 10
    while True:
        found = gateway.store.usage(key_id)
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_stream_that_stalls_before_its_first_event_is_a_504_retried_and_failed_over(
    gateway, simulator_pacing
) -> None:
    simulator_pacing(SimulatorConfig(time_to_first_token=STALL))
    secret, key = gateway.store.create_key("team-a")
    client = gateway.client_for(secret)
    stream = client.messages.stream(model=MODEL, max_tokens=20, messages=user("hi"))
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        events.until_done()
    assert raised.value.status_code == 504
    assert raised.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    # Two attempts on each of the two regions.
    assert gateway.reached_backend() == 4
    (record,) = records(gateway, key.key_id, 1)
    assert record.status == "bedrock:timeout"


def test_a_stream_that_stalls_after_its_first_event_ends_with_an_error_event(
    gateway, simulator_pacing
) -> None:
    # The first delta is one token: it comes at once, the next ones too late.
    simulator_pacing(SimulatorConfig(tokens_per_second=1 / STALL))
    secret, key = gateway.store.create_key("team-a")
    client = gateway.client_for(secret)
    seen: list[str] = []
    stream = client.messages.stream(model=MODEL, max_tokens=50, messages=user("tell me more"))
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        seen.extend(event.type for event in events)
    assert seen[0] == "message_start"
    assert raised.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    (record,) = records(gateway, key.key_id, 1)
    assert record.status == "bedrock:timeout"
    assert record.input_tokens > 0
