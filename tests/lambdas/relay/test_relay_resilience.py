"""Retries, failover and circuit breaking: the policy alone, then the relay under faults."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import DEFAULT_MODEL, MODELS, Routing
from relay.errors import ApiError, ErrorType
from relay.resilience import CircuitBreaker, Outcome, Resilience, RetryPolicy
from relay.settings import parse_fallbacks
from relay.targets import bedrock_target
from relaykit.simulator import SimulatorConfig

MODEL = DEFAULT_MODEL.alias
FALLBACK_REGION = "us-west-2"
BREAKER_COOLDOWN = 0.05
# Another served model, for the last step of the chain.
CHEAPER = next(m for m in MODELS if m.served and m.vertex_id and m is not DEFAULT_MODEL)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def resilience(clock: Clock, attempts: int = 3, threshold: int = 5) -> Resilience:
    policy = RetryPolicy(attempts=attempts, base_delay=0.1, max_delay=1.0, deadline=10.0)
    return Resilience(policy, threshold, 30.0, sleep=clock.sleep, clock=clock, rng=random.Random(1))


def failing(*errors: ErrorType) -> tuple[list[str], object]:
    """A call that fails with `errors` in turn, then answers with the route's name."""
    calls: list[str] = []
    queue = list(errors)

    async def call(route: str) -> str:
        calls.append(route)
        if queue:
            raise ApiError(queue.pop(0), "injected")
        return route

    return calls, call


def run(chain: Resilience, routes: tuple[str, ...], call: object) -> Outcome[str, str]:
    return asyncio.run(chain.run(routes, str, call))  # type: ignore[arg-type]


# The policy alone.


def test_backoff_is_full_jitter_under_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    rng = random.Random(7)
    delays = [policy.backoff(attempt, None, rng) for attempt in range(10) for _ in range(50)]
    assert all(0 <= d <= 1.0 for d in delays)
    assert max(delays) > 0.5


def test_backoff_waits_at_least_what_the_provider_asked() -> None:
    assert RetryPolicy().backoff(0, 3.0, random.Random(1)) >= 3.0


def test_a_throttled_call_is_retried_on_the_same_route() -> None:
    clock = Clock()
    calls, call = failing(ErrorType.RATE_LIMIT)
    outcome = run(resilience(clock), ("a", "b"), call)
    assert (outcome.value, outcome.attempts, outcome.failed_over) == ("a", 2, False)
    assert calls == ["a", "a"]
    assert clock.now > 0


def test_spent_retries_fail_over_to_the_next_route() -> None:
    calls, call = failing(ErrorType.OVERLOADED, ErrorType.API, ErrorType.TIMEOUT)
    outcome = run(resilience(Clock()), ("a", "b"), call)
    assert outcome.route == "b"
    assert outcome.failed_over
    assert calls == ["a", "a", "a", "b"]


def test_access_errors_fail_over_without_retrying() -> None:
    calls, call = failing(ErrorType.PERMISSION)
    outcome = run(resilience(Clock()), ("a", "b"), call)
    assert calls == ["a", "b"]
    assert outcome.route == "b"


def test_bad_requests_are_neither_retried_nor_failed_over() -> None:
    calls, call = failing(ErrorType.INVALID_REQUEST)
    with pytest.raises(ApiError):
        run(resilience(Clock()), ("a", "b"), call)
    assert calls == ["a"]


def test_the_last_error_is_raised_when_every_route_fails() -> None:
    _, call = failing(*[ErrorType.OVERLOADED] * 6)
    with pytest.raises(ApiError) as raised:
        run(resilience(Clock()), ("a", "b"), call)
    assert raised.value.type is ErrorType.OVERLOADED


def test_the_deadline_stops_retries() -> None:
    clock = Clock()
    policy = RetryPolicy(attempts=10, base_delay=5.0, max_delay=5.0, deadline=6.0)
    chain = Resilience(policy, sleep=clock.sleep, clock=clock, rng=random.Random(3))
    calls, call = failing(*[ErrorType.RATE_LIMIT] * 10)
    with pytest.raises(ApiError):
        run(chain, ("a",), call)
    assert len(calls) < 10


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=10.0, clock=clock)
    for _ in range(3):
        breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 10
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    breaker.success()
    assert breaker.state == "closed"


def test_a_failed_trial_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=5.0, clock=clock)
    breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"


def test_an_open_route_is_skipped_while_another_is_left() -> None:
    clock = Clock()
    chain = resilience(clock, attempts=1, threshold=1)
    _, call = failing(ErrorType.OVERLOADED)
    run(chain, ("a", "b"), call)
    calls, call = failing()
    outcome = run(chain, ("a", "b"), call)
    assert calls == ["b"]
    assert outcome.failed_over


# The relay under faults.


def resilient_gateway(simulator: SimulatorConfig | None = None) -> Iterator[Gateway]:
    """A relay that fails over to a second region, then to Vertex AI, then to another model,
    with quick retries and breakers."""
    chain = [f"bedrock:{FALLBACK_REGION}", "vertex", f"model:{CHEAPER.alias}"]
    fallbacks = parse_fallbacks(json.dumps({MODEL: chain}))
    with running_gateway(
        simulator,
        fallbacks=fallbacks,
        retry_attempts=4,
        retry_base_delay=0.001,
        retry_max_delay=0.004,
        breaker_threshold=5,
        breaker_cooldown=BREAKER_COOLDOWN,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def faulty_gateway() -> Iterator[Gateway]:
    yield from resilient_gateway()


@pytest.fixture
def faulty(faulty_gateway: Gateway) -> Gateway:
    """The module's gateway with no faults queued and every breaker past its cool-down, so no
    test inherits the routes an earlier one left open."""
    faulty_gateway.simulator.state.reset()
    time.sleep(BREAKER_COOLDOWN * 2)
    return faulty_gateway


@pytest.fixture(scope="module")
def stormy() -> Iterator[Gateway]:
    yield from resilient_gateway(
        SimulatorConfig(throttle_rate=0.30, server_error_rate=0.05, seed=11)
    )


def test_throttling_before_a_stream_starts_is_retried(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["throttling"])
    with faulty.client().messages.with_streaming_response.create(
        model=MODEL, max_tokens=20, messages=user("x"), stream=True
    ) as response:
        assert response.headers["x-relay-attempts"] == "2"
        assert "event: message_stop" in "".join(response.iter_text())


def test_a_stream_that_failed_after_its_first_byte_is_not_retried(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["mid_stream_internal"])
    with (
        pytest.raises(anthropic.APIStatusError),
        faulty.client().messages.stream(model=MODEL, max_tokens=50, messages=user("x")) as s,
    ):
        s.until_done()
    stats = faulty.simulator.state.stats.snapshot()
    assert stats["operations"]["InvokeModelWithResponseStream"]["total"] == 1


def test_spent_retries_fail_over_and_say_so(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["unavailable"] * 4)
    raw = faulty.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=10, messages=user("x")
    )
    fallback = bedrock_target(DEFAULT_MODEL, FALLBACK_REGION, Routing.GLOBAL)
    assert raw.headers["x-relay-backend"] == f"bedrock/{FALLBACK_REGION}"
    assert raw.headers["x-relay-model-id"] == fallback.model_id
    assert raw.headers["x-relay-fallback"] == DEFAULT_MODEL.anthropic_id
    assert raw.headers["x-relay-attempts"] == "5"


def test_after_both_bedrock_regions_vertex_ai_serves(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["throttling"] * 8)
    raw = faulty.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=user("x")
    )
    assert raw.headers["x-relay-backend"] == "vertex/global"
    assert raw.headers["x-relay-model-id"] == DEFAULT_MODEL.vertex_id
    message = raw.parse()
    assert message.model == DEFAULT_MODEL.anthropic_id
    assert "Vertex AI" in message.content[0].text  # type: ignore[union-attr]


def test_streams_fail_over_to_vertex_ai_too(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["unavailable"] * 8)
    with faulty.client().messages.stream(model=MODEL, max_tokens=20, messages=user("x")) as s:
        text = "".join(s.text_stream)
    assert "Vertex AI" in text


def test_the_last_resort_is_another_model(faulty) -> None:
    faulty.simulator.state.reset()
    faulty.simulator.state.faults.inject(["internal"] * 12)
    raw = faulty.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=user("x")
    )
    assert raw.headers["x-relay-fallback"] == CHEAPER.anthropic_id
    assert raw.parse().model == CHEAPER.anthropic_id


def test_under_30_percent_throttling_and_5_percent_errors_999_of_1000_succeed(stormy) -> None:
    secret, key = stormy.store.create_key("load")
    client = stormy.client_for(secret)

    def one(n: int) -> bool:
        try:
            client.messages.create(model=MODEL, max_tokens=8, messages=user(f"request {n}"))
        except anthropic.APIStatusError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        succeeded = sum(pool.map(one, range(1000)))
    assert succeeded >= 999
    usage = stormy.store.usage(key.key_id)
    assert len(usage) == 1000
    assert len({r.request_id for r in usage}) == 1000
    errors = stormy.simulator.state.stats.snapshot()["errors"]
    assert sum(errors.values()) > 300  # the faults really happened


class Board:
    """An in-memory shared breaker board."""

    blocking = False

    def __init__(self) -> None:
        self.open: dict[str, float] = {}

    def is_open(self, label: str) -> bool:
        return label in self.open

    def trip(self, label: str, seconds: float) -> None:
        self.open[label] = seconds


def test_an_opened_breaker_is_posted_for_other_instances() -> None:
    board = Board()
    chain = resilience(Clock(), attempts=1, threshold=1)
    chain.board = board
    _, call = failing(ErrorType.OVERLOADED)
    run(chain, ("a", "b"), call)
    assert board.open == {"a": chain.breaker_cooldown}


def test_a_route_open_on_the_board_is_skipped_by_another_instance() -> None:
    board = Board()
    board.trip("a", 30)
    other = resilience(Clock())
    other.board = board
    calls, call = failing()
    outcome = run(other, ("a", "b"), call)
    assert calls == ["b"]
    assert outcome.failed_over
