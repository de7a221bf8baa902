"""Fixtures: the relay in front of the Bedrock simulator, once per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from relay_harness import Relay, start_relay

from relaykit.simulator import SimulatorServer
from relaykit.simulator.request import InvokeRequest


@pytest.fixture(scope="module")
def relay_server() -> Iterator[Relay]:
    with SimulatorServer() as simulator:
        # No retries: each injected fault reaches the client (resilience has its own tests).
        server = start_relay(simulator, max_body_bytes=256 * 1024, retry_attempts=1)
        try:
            yield Relay(server.url, simulator)
        finally:
            server.stop()


@pytest.fixture
def relay(relay_server: Relay) -> Relay:
    """The module's relay with the simulator's stats and faults cleared."""
    relay_server.simulator.state.reset()
    return relay_server


@pytest.fixture
def bedrock_bodies(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The InvokeModel bodies the simulator receives during the test."""
    bodies: list[dict[str, Any]] = []
    state = relay.simulator.state
    respond = state.respond

    def recording(request: InvokeRequest) -> dict[str, Any]:
        bodies.append(request.body)
        return respond(request)

    monkeypatch.setattr(state, "respond", recording)
    return bodies
