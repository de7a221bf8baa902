"""The simulator's pure parts: config validation, fault draws, schema samples, the cache."""

from __future__ import annotations

import pytest

from relaykit.simulator import SimulatorConfig
from relaykit.simulator.cache import PromptCache
from relaykit.simulator.errors import ErrorType
from relaykit.simulator.faults import FaultPlan
from relaykit.simulator.tokens import Segment
from relaykit.simulator.tool_inputs import sample_object


@pytest.mark.parametrize(
    "fields",
    [
        {"latency": -1},
        {"tokens_per_second": -5},
        {"throttle_rate": 1.5},
        {"mid_stream_error_rate": -0.1},
        {"throttle_rate": 0.6, "server_error_rate": 0.6},
        {"min_cacheable_tokens": -1},
    ],
)
def test_invalid_config_is_refused(fields):
    with pytest.raises(ValueError, match="SimulatorConfig"):
        SimulatorConfig(**fields)


def test_config_is_frozen():
    config = SimulatorConfig()

    with pytest.raises(AttributeError):
        config.latency = 1.0  # type: ignore[misc]


def test_mid_stream_rate_only_touches_streams():
    plan = FaultPlan(SimulatorConfig(mid_stream_error_rate=1.0))

    assert plan.draw(streaming=False).mid_stream is None
    assert plan.draw(streaming=True).mid_stream is ErrorType.MODEL_STREAM_ERROR


def test_fault_plan_reset_restarts_the_seeded_sequence():
    plan = FaultPlan(SimulatorConfig(throttle_rate=0.5, seed=3))
    first = [plan.draw(streaming=False).upfront for _ in range(10)]

    plan.reset()

    assert [plan.draw(streaming=False).upfront for _ in range(10)] == first


def test_sample_object_fills_nested_required_properties():
    schema = {
        "type": "object",
        "properties": {
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "tags": {"type": "array"}},
                "required": ["lat", "tags"],
            },
            "note": {"type": ["null", "string"]},
            "limit": {"type": "integer", "default": 10},
        },
        "required": ["where", "note", "limit"],
    }

    assert sample_object(schema) == {
        "where": {"lat": 1.0, "tags": ["sample tags"]},
        "note": "sample note",
        "limit": 10,
    }


def test_cache_reads_the_longest_cached_breakpoint_and_writes_the_rest():
    cache = PromptCache()
    tools = Segment("tools", 100, breakpoint=True)
    system = Segment("system", 50, breakpoint=True)
    question = Segment("q1", 10, breakpoint=False)
    cache.account("m", [tools, Segment("other", 40, breakpoint=True), question])

    usage = cache.account("m", [tools, system, question])

    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (100, 50)
    assert usage.input_tokens == 10


def test_cache_ignores_prefixes_below_the_minimum():
    cache = PromptCache(min_tokens=1000)
    segments = [Segment("short", 100, breakpoint=True)]
    cache.account("m", segments)

    usage = cache.account("m", segments)

    assert usage.cache_read_input_tokens == 0
    assert usage.input_tokens == 100
