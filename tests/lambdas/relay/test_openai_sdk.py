"""The official openai SDK against the relay's /v1/chat/completions and /v1/models."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from relay_wire import KEY

from relay.catalog import DEFAULT_MODEL
from relay.openai_api.request import DEFAULT_MAX_TOKENS

MODEL = DEFAULT_MODEL.alias
# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
WEATHER: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def client(relay: Any, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=relay.url + "/v1", api_key=key, max_retries=0)


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def test_completion_returns_the_reply_named_by_the_anthropic_model_id(relay) -> None:
    completion = client(relay).chat.completions.create(model=MODEL, messages=user("hi"))
    assert completion.object == "chat.completion"
    assert completion.model == DEFAULT_MODEL.anthropic_id
    assert completion.choices[0].message.role == "assistant"
    assert "simulated" in (completion.choices[0].message.content or "")
    assert completion.choices[0].finish_reason == "stop"


def test_usage_counts_prompt_and_completion_tokens(relay) -> None:
    usage = client(relay).chat.completions.create(model=MODEL, messages=user("hi")).usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_system_message_reaches_bedrock_as_the_system_prompt(relay, bedrock_bodies) -> None:
    client(relay).chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, *user("hi")],
    )
    (body,) = bedrock_bodies
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_default_max_tokens_is_sent_when_the_client_sends_none(relay, bedrock_bodies) -> None:
    client(relay).chat.completions.create(model=MODEL, messages=user("hi"))
    assert bedrock_bodies[0]["max_tokens"] == min(
        DEFAULT_MAX_TOKENS, DEFAULT_MODEL.max_output_tokens
    )


def test_stream_text_equals_the_non_streamed_text(relay) -> None:
    openai_client = client(relay)
    whole = openai_client.chat.completions.create(model=MODEL, messages=user("compare"))
    chunks = list(
        openai_client.chat.completions.create(model=MODEL, messages=user("compare"), stream=True)
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_with_include_usage_ends_with_a_usage_chunk(relay) -> None:
    chunks = list(
        client(relay).chat.completions.create(
            model=MODEL,
            messages=user("count"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_raw_stream_ends_with_done(relay) -> None:
    body = {"model": MODEL, "stream": True, "messages": user("raw")}
    headers = {"authorization": f"Bearer {KEY}"}
    url = f"{relay.url}/v1/chat/completions"
    with httpx.stream("POST", url, headers=headers, json=body) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_tool_round_trip(relay) -> None:
    openai_client = client(relay)
    first = openai_client.chat.completions.create(
        model=MODEL, tools=WEATHER, messages=user("weather in Hong Kong?")
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    second = openai_client.chat.completions.create(
        model=MODEL,
        tools=WEATHER,
        messages=[
            *user("weather in Hong Kong?"),
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "22C"},
        ],
    )
    assert second.choices[0].finish_reason == "stop"
    assert "1 tool result" in (second.choices[0].message.content or "")


def test_streamed_tool_call_arguments_equal_the_non_streamed_ones(relay) -> None:
    openai_client = client(relay)
    whole = openai_client.chat.completions.create(
        model=MODEL, tools=WEATHER, tool_choice="required", messages=user("weather?")
    )
    with openai_client.chat.completions.stream(
        model=MODEL, tools=WEATHER, tool_choice="required", messages=user("weather?")
    ) as stream:
        final = stream.get_final_completion()
    (expected,) = whole.choices[0].message.tool_calls or []
    (streamed,) = final.choices[0].message.tool_calls or []
    assert streamed.function.name == expected.function.name  # type: ignore[union-attr]
    assert json.loads(streamed.function.arguments) == json.loads(  # type: ignore[union-attr]
        expected.function.arguments  # type: ignore[union-attr]
    )
    assert final.choices[0].finish_reason == "tool_calls"


def test_tool_choice_required_reaches_bedrock_as_any(relay, bedrock_bodies) -> None:
    client(relay).chat.completions.create(
        model=MODEL, tools=WEATHER, tool_choice="required", messages=user("weather?")
    )
    assert bedrock_bodies[0]["tool_choice"] == {"type": "any"}
    assert bedrock_bodies[0]["tools"][0]["input_schema"] == WEATHER[0]["function"]["parameters"]


def test_data_url_image_reaches_bedrock_as_a_base64_image_block(relay, bedrock_bodies) -> None:
    completion = client(relay).chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content
    image = bedrock_bodies[0]["messages"][0]["content"][1]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }


def test_small_max_tokens_finishes_with_length(relay) -> None:
    completion = client(relay).chat.completions.create(
        model=MODEL, max_completion_tokens=3, messages=user("hi")
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_stop_sequence_finishes_with_stop_and_cuts_the_text(relay) -> None:
    completion = client(relay).chat.completions.create(
        model=MODEL, stop=["Bedrock"], messages=user("hi")
    )
    assert completion.choices[0].finish_reason == "stop"
    assert "Bedrock" not in (completion.choices[0].message.content or "Bedrock")


# Errors: the SDK raises its own classes, from OpenAI-shaped bodies.


def test_wrong_key_raises_authentication_error(relay) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        client(relay, key="sk-wrong").chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.body == {
        "message": "Invalid API key.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_key",
    }
    assert relay.reached_backend() == 0


def test_unknown_model_raises_bad_request_naming_the_param(relay) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client(relay).chat.completions.create(model="gpt-4o", messages=user("x"))
    body: dict[str, Any] = raised.value.body  # type: ignore[assignment]
    assert body["param"] == "model"
    assert body["code"] == "unknown_model"
    assert DEFAULT_MODEL.alias in body["message"]
    assert relay.reached_backend() == 0


def test_more_than_one_choice_raises_bad_request(relay) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client(relay).chat.completions.create(model=MODEL, n=2, messages=user("x"))
    assert raised.value.body["param"] == "n"  # type: ignore[index]
    assert relay.reached_backend() == 0


def test_http_image_url_raises_bad_request(relay) -> None:
    with pytest.raises(openai.BadRequestError, match="cannot fetch images"):
        client(relay).chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ],
                }
            ],
        )
    assert relay.reached_backend() == 0


def test_bedrock_throttling_raises_rate_limit_error(relay) -> None:
    relay.simulator.state.faults.inject(["throttling"])
    with pytest.raises(openai.RateLimitError) as raised:
        client(relay).chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.response.headers["retry-after"].isdigit()
    assert raised.value.body["type"] == "rate_limit_error"  # type: ignore[index]


def test_mid_stream_failure_raises_api_error_from_the_stream(relay) -> None:
    relay.simulator.state.faults.inject(["mid_stream_internal"])
    stream = client(relay).chat.completions.create(model=MODEL, messages=user("x"), stream=True)
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    assert raised.value.body["type"] == "api_error"  # type: ignore[index]


def test_wrong_method_on_chat_completions_answers_in_openai_shape(relay) -> None:
    response = httpx.get(f"{relay.url}/v1/chat/completions")
    assert response.status_code == 405
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


# /v1/models: OpenAI's shape unless the client sends anthropic-version.


def test_models_list_is_in_openai_shape(relay) -> None:
    models = list(client(relay).models.list())
    assert DEFAULT_MODEL.anthropic_id in [model.id for model in models]
    assert {model.object for model in models} == {"model"}
    assert all(model.owned_by == "anthropic" for model in models)


def test_models_retrieve_by_alias_is_in_openai_shape(relay) -> None:
    model = client(relay).models.retrieve(DEFAULT_MODEL.alias)
    assert model.id == DEFAULT_MODEL.anthropic_id
    assert model.created > 0


def test_unknown_model_id_raises_not_found_in_openai_shape(relay) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client(relay).models.retrieve("gpt-4o")
    assert raised.value.body["type"] == "not_found_error"  # type: ignore[index]


def test_anthropic_sdk_still_gets_anthropic_models(relay) -> None:
    page = relay.client().models.list()
    ids = [model.id for model in page]
    assert DEFAULT_MODEL.anthropic_id in ids
    assert page.data[0].type == "model"
    assert page.data[0].display_name


def test_models_without_a_key_answer_401_in_openai_shape(relay) -> None:
    response = httpx.get(f"{relay.url}/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_key"


def test_models_without_a_key_answer_401_in_anthropic_shape_to_anthropic_clients(relay) -> None:
    response = httpx.get(f"{relay.url}/v1/models", headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 401
    assert response.json()["type"] == "error"


def test_reasoning_effort_reaches_bedrock_as_thinking(relay, bedrock_bodies) -> None:
    completion = client(relay).chat.completions.create(
        model=MODEL, messages=user("think"), reasoning_effort="low"
    )
    assert completion.choices[0].message.content
    [body] = bedrock_bodies
    assert body["thinking"]["type"] == "enabled"
    assert body["max_tokens"] > body["thinking"]["budget_tokens"]
