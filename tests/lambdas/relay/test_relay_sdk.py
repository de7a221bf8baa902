"""The official anthropic SDK against the relay, unchanged but for base URL and key."""

from __future__ import annotations

import anthropic
import pytest
from relay_wire import HEADERS, KEY, user

from relay.catalog import DEFAULT_MODEL, Geography, Routing
from relay.targets import bedrock_target

MODEL = DEFAULT_MODEL.alias


def test_create_returns_a_message_named_by_the_anthropic_model_id(relay) -> None:
    message = relay.client().messages.create(model=MODEL, max_tokens=100, messages=user("hi"))
    assert message.type == "message"
    assert message.model == DEFAULT_MODEL.anthropic_id
    assert message.content[0].type == "text"
    assert "simulated" in message.content[0].text
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


def test_the_bedrock_id_of_the_global_profile_is_invoked(relay) -> None:
    relay.client().messages.create(model=MODEL, max_tokens=50, messages=user("hi"))
    models = relay.simulator.state.stats.snapshot()["operations"]["InvokeModel"]["models"]
    expected = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL)
    assert expected.profile is not None
    assert expected.profile.geography is Geography.GLOBAL
    assert list(models) == [expected.model_id]


async def test_async_client_gets_the_same_reply_as_the_sync_one(relay) -> None:
    sync = relay.client().messages.create(model=MODEL, max_tokens=80, messages=user("same"))
    message = await relay.async_client().messages.create(
        model=MODEL, max_tokens=80, messages=user("same")
    )
    assert message.content == sync.content


def test_stream_yields_anthropic_events_in_order_and_a_final_message(relay) -> None:
    with relay.client().messages.stream(
        model=MODEL, max_tokens=100, messages=user("stream please")
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds
    assert final.model == DEFAULT_MODEL.anthropic_id
    assert final.usage.output_tokens > 0
    assert final.stop_reason == "end_turn"


def test_stream_text_equals_the_non_streamed_text(relay) -> None:
    client = relay.client()
    whole = client.messages.create(model=MODEL, max_tokens=100, messages=user("compare"))
    with client.messages.stream(model=MODEL, max_tokens=100, messages=user("compare")) as stream:
        streamed = "".join(stream.text_stream)
    assert streamed == whole.content[0].text  # type: ignore[union-attr]


def test_raw_stream_starts_with_message_start_then_a_ping(relay) -> None:
    import httpx

    with httpx.stream(
        "POST",
        f"{relay.url}/v1/messages",
        headers=HEADERS,
        json={"model": MODEL, "max_tokens": 20, "stream": True, "messages": user("raw")},
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[:2] == ["event: message_start", "event: ping"]
    assert lines[-1] == "event: message_stop"


def test_tool_round_trip(relay) -> None:
    client = relay.client()
    tools: list[anthropic.types.ToolParam] = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    first = client.messages.create(
        model=MODEL, max_tokens=200, tools=tools, messages=user("weather in Hong Kong?")
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert isinstance(call.input.get("city"), str)
    second = client.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=tools,
        messages=[
            *user("weather in Hong Kong?"),
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22C"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"


def test_count_tokens_matches_the_input_tokens_of_the_same_request(relay) -> None:
    client = relay.client()
    messages = user("count these words please")
    counted = client.messages.count_tokens(model=MODEL, messages=messages, system="be brief")
    message = client.messages.create(
        model=MODEL, max_tokens=50, messages=messages, system="be brief"
    )
    assert counted.input_tokens == message.usage.input_tokens


def test_count_tokens_calls_bedrock_with_the_foundation_model_id(relay) -> None:
    relay.client().messages.count_tokens(model=MODEL, messages=user("x"))
    models = relay.simulator.state.stats.snapshot()["operations"]["CountTokens"]["models"]
    assert list(models) == [DEFAULT_MODEL.bedrock_id]


def test_models_list_and_retrieve(relay) -> None:
    client = relay.client()
    ids = [model.id for model in client.models.list()]
    assert DEFAULT_MODEL.anthropic_id in ids
    one = client.models.retrieve(DEFAULT_MODEL.alias)
    assert one.id == DEFAULT_MODEL.anthropic_id
    assert one.display_name == DEFAULT_MODEL.name


def test_misnamed_model_id_is_served_with_a_warning_header(relay) -> None:
    wrong = DEFAULT_MODEL.misnamed_ids[0]
    raw = relay.client().messages.with_raw_response.create(
        model=wrong, max_tokens=20, messages=user("hi")
    )
    assert wrong in raw.headers["warning"]
    assert raw.parse().model == DEFAULT_MODEL.anthropic_id


def test_every_response_carries_a_request_id(relay) -> None:
    raw = relay.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=user("hi")
    )
    assert raw.headers["request-id"].startswith("req_")


def test_bearer_authorization_is_accepted_like_x_api_key(relay) -> None:
    client = anthropic.Anthropic(base_url=relay.url, auth_token=KEY, api_key=None, max_retries=0)
    message = client.messages.create(model=MODEL, max_tokens=20, messages=user("hi"))
    assert message.type == "message"


@pytest.mark.parametrize("version", ["2023-06-01", "2099-01-01"])
def test_client_anthropic_version_is_never_forwarded(relay, version: str) -> None:
    client = relay.client(default_headers={"anthropic-version": version})
    assert client.messages.create(model=MODEL, max_tokens=20, messages=user("v")).id
