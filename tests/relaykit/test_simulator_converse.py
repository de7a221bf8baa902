"""Converse and ConverseStream: the simulator's replies in Converse's shapes, as botocore parses
them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from relay.catalog import DEFAULT_MODEL
from tests.relaykit.simulator_calls import WEATHER_TOOL, control, invoke, messages_body

MODEL = DEFAULT_MODEL.bedrock_id
QUESTION = "What is the capital of France?"
USER = [{"role": "user", "content": [{"text": QUESTION}]}]
WEATHER_SPEC = {
    "toolSpec": {
        "name": WEATHER_TOOL["name"],
        "description": WEATHER_TOOL["description"],
        "inputSchema": {"json": WEATHER_TOOL["input_schema"]},
    }
}


def converse_stream(bedrock: Any, **request: Any) -> list[dict[str, Any]]:
    response = bedrock.converse_stream(modelId=MODEL, **request)
    return list(response["stream"])


def test_converse_answers_with_the_invoke_reply(sim, bedrock):
    message = invoke(bedrock, messages_body(QUESTION))

    reply = bedrock.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 512})

    assert reply["output"]["message"]["role"] == "assistant"
    assert reply["output"]["message"]["content"] == [{"text": message["content"][0]["text"]}]
    assert reply["stopReason"] == "end_turn"
    usage = message["usage"]
    assert reply["usage"]["inputTokens"] == usage["input_tokens"]
    assert reply["usage"]["outputTokens"] == usage["output_tokens"]
    assert reply["usage"]["totalTokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply["metrics"]["latencyMs"] >= 0


def test_converse_is_counted_under_its_own_operation(sim, bedrock):
    bedrock.converse(modelId=MODEL, messages=USER)
    converse_stream(bedrock, messages=USER)

    stats = control(sim, "stats")

    assert stats["operations"]["Converse"]["models"] == {MODEL: 1}
    assert stats["operations"]["ConverseStream"]["models"] == {MODEL: 1}


def test_converse_calls_a_tool_named_by_the_user(sim, bedrock):
    ask = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]

    reply = bedrock.converse(
        modelId=MODEL,
        messages=ask,
        toolConfig={"tools": [WEATHER_SPEC], "toolChoice": {"any": {}}},
    )

    use = reply["output"]["message"]["content"][-1]["toolUse"]
    assert reply["stopReason"] == "tool_use"
    assert use["name"] == "get_weather"
    assert use["toolUseId"].startswith("toolu_")
    assert {"city", "days", "unit"} <= set(use["input"])


def test_converse_reads_a_tool_result_and_answers_in_text(sim, bedrock):
    use = {"toolUseId": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    result = {"toolUseId": "toolu_1", "content": [{"json": {"temp": 21}}], "status": "success"}
    turns = [
        {"role": "user", "content": [{"text": "What is the weather in Paris?"}]},
        {"role": "assistant", "content": [{"toolUse": use}]},
        {"role": "user", "content": [{"toolResult": result}]},
    ]

    reply = bedrock.converse(modelId=MODEL, messages=turns, toolConfig={"tools": [WEATHER_SPEC]})

    assert reply["stopReason"] == "end_turn"
    assert "1 tool result" in reply["output"]["message"]["content"][0]["text"]


def test_max_tokens_and_stop_reason_come_through(sim, bedrock):
    reply = bedrock.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 3})

    assert reply["stopReason"] == "max_tokens"
    assert reply["usage"]["outputTokens"] == 3


def test_a_cache_point_marks_the_system_prompt_for_the_prompt_cache(sim, bedrock):
    system = [{"text": "Cached " * 300}, {"cachePoint": {"type": "default"}}]

    first = bedrock.converse(modelId=MODEL, messages=USER, system=system)
    second = bedrock.converse(modelId=MODEL, messages=USER, system=system)

    assert first["usage"]["cacheWriteInputTokens"] > 0
    assert second["usage"]["cacheReadInputTokens"] == first["usage"]["cacheWriteInputTokens"]


def test_thinking_from_additional_fields_comes_back_as_reasoning(sim, bedrock):
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}

    reply = bedrock.converse(
        modelId=MODEL,
        messages=USER,
        inferenceConfig={"maxTokens": 2048},
        additionalModelRequestFields=thinking,
    )

    reasoning = reply["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning["text"].startswith("[simulated")
    assert reasoning["signature"]


def test_an_invalid_request_is_a_validation_error(sim, bedrock):
    with pytest.raises(ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 10**6})

    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_stream_events_come_in_converse_order(sim, bedrock):
    events = converse_stream(bedrock, messages=USER)

    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart"
    assert set(names[1:-3]) == {"contentBlockDelta"}
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]


def test_stream_text_and_usage_match_converse(sim, bedrock):
    reply = bedrock.converse(modelId=MODEL, messages=USER)

    events = converse_stream(bedrock, messages=USER)

    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == reply["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"] == reply["usage"]


def test_a_streamed_tool_call_starts_its_block_and_streams_its_input(sim, bedrock):
    ask = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
    tools = {"tools": [WEATHER_SPEC], "toolChoice": {"any": {}}}
    reply = bedrock.converse(modelId=MODEL, messages=ask, toolConfig=tools)

    events = converse_stream(bedrock, messages=ask, toolConfig=tools)

    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    partial = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e
        and e["contentBlockDelta"]["contentBlockIndex"] == start["contentBlockIndex"]
    )
    assert json.loads(partial) == reply["output"]["message"]["content"][-1]["toolUse"]["input"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_a_mid_stream_fault_breaks_the_converse_stream(sim, bedrock):
    control(sim, "faults", {"next": ["mid_stream"]})
    response = bedrock.converse_stream(modelId=MODEL, messages=USER)

    with pytest.raises(EventStreamError):
        list(response["stream"])
