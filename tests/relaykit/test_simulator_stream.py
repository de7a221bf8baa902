"""InvokeModelWithResponseStream: event-stream frames as botocore parses them."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import EventStreamError

from relay.catalog import DEFAULT_MODEL
from relaykit.simulator import SimulatorConfig, SimulatorServer, simulator_client
from tests.relaykit.simulator_calls import WEATHER_TOOL, control, invoke, messages_body, stream

THINKING = {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}


def drain(events, seen: list[str]) -> None:
    """Read a stream to its end, noting the type of each Anthropic event on the way."""
    for event in events:
        seen.append(json.loads(event["chunk"]["bytes"])["type"])


def test_events_come_in_the_anthropic_order(sim, bedrock):
    types = [event["type"] for event in stream(bedrock, messages_body())]

    assert types[:2] == ["message_start", "content_block_start"]
    assert set(types[2:-3]) == {"content_block_delta"}
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_text_deltas_add_up_to_the_invoke_reply(sim, bedrock):
    message = invoke(bedrock, messages_body())

    events = stream(bedrock, messages_body())

    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == message["content"][0]["text"]


def test_usage_in_the_stream_matches_invoke_usage(sim, bedrock):
    usage = invoke(bedrock, messages_body())["usage"]

    events = stream(bedrock, messages_body())

    start, delta = events[0], events[-2]
    assert start["message"]["usage"]["input_tokens"] == usage["input_tokens"]
    assert delta["usage"]["output_tokens"] == usage["output_tokens"]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_message_stop_carries_bedrock_invocation_metrics(sim, bedrock):
    usage = invoke(bedrock, messages_body())["usage"]

    metrics = stream(bedrock, messages_body())[-1]["amazon-bedrock-invocationMetrics"]

    assert metrics["inputTokenCount"] == usage["input_tokens"]
    assert metrics["outputTokenCount"] == usage["output_tokens"]
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_tool_use_input_arrives_as_json_deltas(sim, bedrock):
    message = invoke(bedrock, messages_body(tools=[WEATHER_TOOL]))

    events = stream(bedrock, messages_body(tools=[WEATHER_TOOL]))

    index = len(message["content"]) - 1
    start = next(e for e in events if e["type"] == "content_block_start" and e["index"] == index)
    partial = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert start["content_block"]["name"] == "get_weather"
    assert start["content_block"]["input"] == {}
    assert json.loads(partial) == message["content"][-1]["input"]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_thinking_streams_thinking_then_signature_deltas(sim, bedrock):
    message = invoke(bedrock, messages_body(**THINKING))

    events = stream(bedrock, messages_body(**THINKING))

    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert [d["type"] for d in deltas][-1] == "signature_delta"
    assert {d["type"] for d in deltas[:-1]} == {"thinking_delta"}
    assert "".join(d["thinking"] for d in deltas[:-1]) == message["content"][0]["thinking"]
    assert deltas[-1]["signature"] == message["content"][0]["signature"]


def test_stream_response_is_an_amazon_eventstream(sim, bedrock):
    response = bedrock.invoke_model_with_response_stream(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(messages_body())
    )
    list(response["body"])

    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert response["contentType"] == "application/json"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("mid_stream", "modelStreamErrorException"),
        ("mid_stream_throttling", "throttlingException"),
        ("mid_stream_internal", "internalServerException"),
        ("mid_stream_unavailable", "serviceUnavailableException"),
        ("mid_stream_timeout", "modelTimeoutException"),
        ("mid_stream_validation", "validationException"),
    ],
)
def test_mid_stream_fault_raises_event_stream_error_after_the_first_delta(
    sim, bedrock, fault, code
):
    control(sim, "faults", {"next": [fault]})
    response = bedrock.invoke_model_with_response_stream(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(messages_body())
    )
    seen: list[str] = []

    with pytest.raises(EventStreamError) as raised:
        drain(response["body"], seen)

    assert raised.value.response["Error"]["Code"] == code
    assert seen == ["message_start", "content_block_start", "content_block_delta"]


def test_model_stream_error_carries_the_original_status(sim, bedrock):
    control(sim, "faults", {"next": ["mid_stream"]})
    response = bedrock.invoke_model_with_response_stream(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(messages_body())
    )

    with pytest.raises(EventStreamError) as raised:
        list(response["body"])

    assert raised.value.response["Error"]["Message"]
    assert raised.value.operation_name == "InvokeModelWithResponseStream"


def test_time_to_first_token_delays_the_stream():
    with SimulatorServer(SimulatorConfig(time_to_first_token=0.3)) as slow:
        client = simulator_client(slow.endpoint_url)
        started = time.monotonic()

        stream(client, messages_body())

        assert time.monotonic() - started >= 0.3


def test_tokens_per_second_paces_the_deltas():
    with SimulatorServer(SimulatorConfig(tokens_per_second=100)) as paced:
        client = simulator_client(paced.endpoint_url)
        started = time.monotonic()

        events = stream(client, messages_body())

        output_tokens = events[-2]["usage"]["output_tokens"]
        assert time.monotonic() - started >= output_tokens / 100 * 0.9
