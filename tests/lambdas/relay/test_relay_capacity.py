"""No fixed ceiling on concurrent provider calls in one relay process: more calls than anyio's
40 default threads are all at the simulator at once (a count, not a timing: every call has
reached it before the first one is answered)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from relay_harness import Relay, start_relay
from relay_wire import HEADERS, user

from relay.catalog import DEFAULT_MODEL
from relaykit.simulator import SimulatorConfig, SimulatorServer

CALLS = 60
# Long enough that every call is sent before the first answer comes, even on a busy machine.
LATENCY = 6.0


@pytest.fixture(scope="module")
def slow_relay() -> Iterator[Relay]:
    with SimulatorServer(SimulatorConfig(latency=LATENCY)) as simulator:
        server = start_relay(simulator, retry_attempts=1)
        try:
            yield Relay(server.url, simulator)
        finally:
            server.stop()


async def in_flight_before_the_first_answer(relay: Relay, stream: bool) -> int:
    body = {"model": DEFAULT_MODEL.alias, "max_tokens": 8, "messages": user("hi")}
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(
        base_url=relay.url, headers=HEADERS, limits=limits, timeout=60
    ) as http:

        async def call() -> int:
            request = {**body, "stream": stream}
            async with http.stream("POST", "/v1/messages", json=request) as response:
                reached: int = relay.simulator.state.stats.snapshot()["total"]
                assert response.status_code == 200
                await response.aread()
            return reached

        # Each call reads the simulator's count when its own answer starts: the smallest is
        # how many had reached it when the first answer came.
        return min(await asyncio.gather(*(call() for _ in range(CALLS))))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_more_calls_than_threads_are_all_in_flight_at_once(slow_relay: Relay, stream: bool) -> None:
    slow_relay.simulator.state.reset()
    assert asyncio.run(in_flight_before_the_first_answer(slow_relay, stream)) == CALLS
