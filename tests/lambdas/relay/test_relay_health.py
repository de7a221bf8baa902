"""GET /health: liveness, and whether the relay reaches its Bedrock region (a cached probe)."""

from __future__ import annotations

import dataclasses

import anyio
import pytest
from relay_wire import KEY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from relay.app import create_app
from relay.reachability import ReachabilityCache, http_probe, runtime_endpoint
from relay.services import Services
from relay.settings import Settings, key_digest
from relaykit.simulator import SimulatorServer, simulator_session
from relaykit.threaded import ThreadedServer


def _client(simulator: SimulatorServer, ttl_seconds: float) -> TestClient:
    settings = Settings(
        bedrock_region="us-east-1",
        key_digests=frozenset({key_digest(KEY)}),
        bedrock_endpoint_url=simulator.endpoint_url,
    )
    services = Services.from_settings(settings, simulator_session())
    assert services.reachability is not None  # as deployed: the relay probes its Bedrock region
    probe = http_probe(runtime_endpoint(settings.bedrock_region, settings.bedrock_endpoint_url))
    services = dataclasses.replace(services, reachability=ReachabilityCache(probe, ttl_seconds))
    return TestClient(create_app(settings, services))


def test_health_is_ok_while_the_simulator_answers_and_503_once_it_is_down() -> None:
    simulator = SimulatorServer().start()
    try:
        client = _client(simulator, ttl_seconds=0)
        up = client.get("/health")
        assert up.status_code == 200
        assert up.json() == {"status": "ok", "bedrock": {"region": "us-east-1", "reachable": True}}
        # The probe is not a model call: the simulator saw no Bedrock request.
        assert simulator.state.stats.snapshot()["total"] == 0
    finally:
        simulator.stop()
    down = client.get("/health")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unhealthy"
    assert body["bedrock"]["reachable"] is False
    assert body["bedrock"]["reason"] == "ConnectError"


def test_a_probe_result_is_reused_within_its_ttl_so_an_outage_shows_after_it() -> None:
    simulator = SimulatorServer().start()
    try:
        client = _client(simulator, ttl_seconds=3600)
        assert client.get("/health").status_code == 200
    finally:
        simulator.stop()
    assert client.get("/health").status_code == 200  # cached: no second probe


def test_the_cache_probes_once_per_ttl_and_concurrent_callers_share_the_probe() -> None:
    now = [0.0]
    calls: list[float] = []

    async def probe() -> str | None:
        calls.append(now[0])
        await anyio.sleep(0.01)
        return None if now[0] < 30 else "HTTP 503"

    cache = ReachabilityCache(probe, ttl_seconds=20, clock=lambda: now[0])

    async def scenario() -> list[bool]:
        seen = []
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(cache.current)
        seen.append((await cache.current()).reachable)
        now[0] = 19.9
        seen.append((await cache.current()).reachable)
        now[0] = 30.0
        seen.append((await cache.current()).reachable)
        return seen

    assert anyio.run(scenario) == [True, True, False]
    assert calls == [0.0, 30.0]


@pytest.mark.parametrize(("status", "finding"), [(403, None), (404, None), (503, "HTTP 503")])
def test_an_endpoint_answering_5xx_is_unreachable_while_a_refusal_shows_it_up(
    status: int, finding: str | None
) -> None:
    async def answer(request: Request) -> Response:
        return Response(status_code=status)

    server = ThreadedServer(Starlette(routes=[Route("/", answer)]), name="endpoint").start()
    try:
        assert anyio.run(http_probe(server.url)) == finding
    finally:
        server.stop()
