"""The relay under uvicorn on a loopback port, backed by the Bedrock simulator, once per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anthropic
import pytest
from relay_wire import KEY

from relay.app import create_app
from relay.services import Services
from relay.settings import Settings, key_digest
from relaykit.environment import simulator_session
from relaykit.simulator import SimulatorServer
from relaykit.threaded import ThreadedServer


@dataclass
class Relay:
    url: str
    simulator: SimulatorServer

    def client(self, **options: object) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url,
            api_key=KEY,
            max_retries=0,
            **options,  # type: ignore[arg-type]
        )

    def async_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=KEY, max_retries=0)

    def reached_backend(self) -> int:
        """How many requests the simulator has seen since the last reset."""
        total: int = self.simulator.state.stats.snapshot()["total"]
        return total


def start_relay(simulator: SimulatorServer, **settings: object) -> ThreadedServer:
    config = Settings(
        bedrock_region="us-east-1",
        key_digests=frozenset({key_digest(KEY)}),
        bedrock_endpoint_url=simulator.endpoint_url,
        **settings,  # type: ignore[arg-type]
    )
    services = Services.from_settings(config, simulator_session())
    return ThreadedServer(create_app(config, services), name="relay").start()


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
