"""Latency failover and hedging through the simulator: a route slow to its first byte is left for
the next one, and a hedged stream's loser is cancelled and metered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from relay_harness import Gateway, Relay, running_gateway, start_relay
from relay_wire import user

from relay.catalog import DEFAULT_MODEL, Routing
from relay.errors import ApiError, ErrorType
from relay.latency import HedgePolicy, LatencyConfigError, parse_deadlines, parse_hedge
from relay.resilience import Outcome, Resilience, RetryPolicy
from relay.settings import parse_fallbacks
from relay.targets import bedrock_target
from relaykit.simulator import SimulatorServer

MODEL = DEFAULT_MODEL.alias
# The next route calls another profile id, so the simulator's delay holds the first route only.
FALLBACKS = parse_fallbacks(json.dumps({MODEL: ["bedrock:us-west-2:geographic"]}))
PRIMARY_ID = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL).model_id
# Seconds the slow request is held: far past any deadline or hedge here, so a loaded machine
# (a cold backend on the next route) cannot make the slow route win; nothing waits for it.
SLOW = 3.0


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    with SimulatorServer() as simulator:
        server = start_relay(
            simulator,
            fallbacks=FALLBACKS,
            retry_attempts=1,
            ttfb_deadlines=parse_deadlines('{"bedrock/us-east-1": 150}'),
            metrics=True,
        )
        try:
            yield Relay(server.url, simulator)
        finally:
            server.stop()


def _request_metrics(out: str) -> dict[str, Any]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    (metrics,) = [d for d in documents if "Requests" in d]
    return metrics


def test_a_stream_slower_than_its_deadline_is_served_by_the_next_route(
    relay: Relay, capsys: pytest.CaptureFixture[str]
) -> None:
    relay.simulator.state.reset()
    capsys.readouterr()
    relay.simulator.state.faults.delay([SLOW], PRIMARY_ID)
    started = time.monotonic()
    with relay.client().messages.stream(model=MODEL, max_tokens=20, messages=user("hi")) as s:
        backend = s.response.headers["x-relay-backend"]
        text = s.get_final_text()
    assert backend == "bedrock/us-west-2"
    assert text
    assert time.monotonic() - started < SLOW / 2
    assert _request_metrics(capsys.readouterr().out)["SlowFailovers"] == [1.0]


def test_a_fast_stream_stays_on_its_route(relay: Relay) -> None:
    relay.simulator.state.reset()
    with relay.client().messages.stream(model=MODEL, max_tokens=20, messages=user("hi")) as s:
        assert s.response.headers["x-relay-backend"] == "bedrock/us-east-1"
    assert relay.reached_backend() == 1


def test_a_non_streamed_request_is_not_cut(relay: Relay) -> None:
    relay.simulator.state.reset()
    relay.simulator.state.faults.delay([0.3], PRIMARY_ID)
    raw = relay.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=user("hi")
    )
    assert raw.headers["x-relay-backend"] == "bedrock/us-east-1"
    assert relay.reached_backend() == 1


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    hedge = HedgePolicy(percentile=50, min_samples=3, max_input_tokens=1000)
    with running_gateway(
        fallbacks=FALLBACKS, retry_attempts=1, hedge=hedge, metrics=True
    ) as running:
        yield running


def _warm(gateway: Gateway, secret: str) -> None:
    """Three fast streams: the samples the hedge's percentile is taken over."""
    for _ in range(3):
        with gateway.client_for(secret).messages.stream(
            model=MODEL, max_tokens=5, messages=user("warm")
        ) as s:
            s.get_final_message()


def test_a_hedged_stream_wins_and_its_slow_loser_is_cancelled_and_metered(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    secret, key = gateway.store.create_key("team-hedge")
    _warm(gateway, secret)
    capsys.readouterr()
    gateway.simulator.state.reset()
    gateway.simulator.state.faults.delay([SLOW], PRIMARY_ID)
    started = time.monotonic()
    with gateway.client_for(secret).messages.stream(
        model=MODEL, max_tokens=20, messages=user("hedge me")
    ) as s:
        backend = s.response.headers["x-relay-backend"]
        message = s.get_final_message()
    assert time.monotonic() - started < SLOW / 2
    assert backend == "bedrock/us-west-2"
    records = gateway.usage_records(key.key_id, 5)
    lost = [r for r in records if r.status == "hedge_lost"]
    assert len(lost) == 1
    assert lost[0].backend == "bedrock/us-east-1"
    # Cancelled before its first byte: the prompt's input, as the winner counted it, no output.
    assert lost[0].input_tokens == message.usage.input_tokens > 0
    assert lost[0].output_tokens == 0
    assert lost[0].cost_usd > 0
    winner = next(r for r in records if r.request_id == lost[0].request_id.removesuffix("-hedge"))
    assert winner.status == "ok"
    metrics = _request_metrics(capsys.readouterr().out)
    assert (metrics["Hedges"], metrics["HedgeWins"]) == ([1.0], [1.0])


def test_a_request_over_the_hedge_size_is_not_hedged(gateway: Gateway) -> None:
    secret, _ = gateway.store.create_key("team-big")
    _warm(gateway, secret)
    gateway.simulator.state.reset()
    gateway.simulator.state.faults.delay([0.3], PRIMARY_ID)
    with gateway.client_for(secret).messages.stream(
        model=MODEL, max_tokens=20, messages=user("word " * 1000)
    ) as s:
        assert s.response.headers["x-relay-backend"] == "bedrock/us-east-1"
    assert gateway.reached_backend() == 1


def test_latency_settings_are_checked() -> None:
    assert parse_deadlines("5000") == (("*", 5.0),)
    with pytest.raises(LatencyConfigError, match="RELAY_TTFB_DEADLINE_MS"):
        parse_deadlines('{"*": -1}')
    with pytest.raises(LatencyConfigError, match=r"RELAY_HEDGE\.percentile"):
        parse_hedge('{"percentile": 100}')
    with pytest.raises(LatencyConfigError, match=r"RELAY_HEDGE\.hedges"):
        parse_hedge('{"hedges": 2}')


def _hedging(min_samples: int = 1) -> Resilience:
    policy = RetryPolicy(attempts=1)
    return Resilience(policy, hedge=HedgePolicy(percentile=50, min_samples=min_samples))


def _timed(delays: dict[str, float], errors: frozenset[str] = frozenset()) -> Any:
    async def call(route: str) -> str:
        await anyio.sleep(delays.get(route, 0))
        if route in errors:
            raise ApiError(ErrorType.OVERLOADED, "injected")
        return route

    return call


def test_the_hedge_waits_for_samples_and_then_races_the_next_route() -> None:
    resilience = _hedging(min_samples=2)
    routes = ("a", "b")
    fast = _timed({})

    async def scenario() -> tuple[Outcome[str, str], ...]:
        warm = [await resilience.run_hedged(routes, str, fast, lambda: 1) for _ in range(2)]
        raced = await resilience.run_hedged(routes, str, _timed({"a": 1.0}), lambda: 1)
        return (*warm, raced)

    first, second, raced = anyio.run(scenario)
    assert not first.hedged
    assert not second.hedged
    assert (raced.value, raced.hedged, raced.hedge_won) == ("b", True, True)
    assert raced.loser is not None
    assert (raced.loser.route, raced.loser.value) == ("a", None)


def test_a_request_that_fails_before_the_hedge_is_not_hedged() -> None:
    resilience = _hedging()
    routes = ("a", "b")
    calls: list[str] = []

    async def failing(route: str) -> str:
        calls.append(route)
        raise ApiError(ErrorType.OVERLOADED, "injected")

    async def scenario() -> None:
        # First bytes take 50 ms: the hedge would start 50 ms in.
        await resilience.run_hedged(routes, str, _timed({"a": 0.05}), lambda: 1)
        await resilience.run_hedged(routes, str, failing, lambda: 1)

    with pytest.raises(ApiError, match="injected"):
        anyio.run(scenario)
    assert calls == ["a", "b"]  # the chain once, no hedge after it failed


def test_a_hedge_that_fails_leaves_the_first_request_to_finish_unmetered() -> None:
    resilience = _hedging()
    routes = ("a", "b")

    async def scenario() -> Outcome[str, str]:
        await resilience.run_hedged(routes, str, _timed({}), lambda: 1)
        return await resilience.run_hedged(
            routes, str, _timed({"a": 0.05}, frozenset("b")), lambda: 1
        )

    outcome = anyio.run(scenario)
    assert (outcome.value, outcome.hedged, outcome.hedge_won) == ("a", True, False)
    assert outcome.loser is None
