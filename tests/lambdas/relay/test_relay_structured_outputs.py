"""Structured outputs through the relay with the clients people use: the anthropic and openai
SDKs' parse helpers and LangChain's with_structured_output, plain and streamed, on a model with
native structured outputs on Bedrock (Haiku 4.5) and on one the relay emulates them for (Sonnet
4.6), all against the simulator."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, Field
from relay_wire import KEY, user

from relay.catalog import HAIKU_4_5, SONNET_4_6, Model

NATIVE, EMULATED = HAIKU_4_5, SONNET_4_6
BOTH = pytest.mark.parametrize("model", [NATIVE, EMULATED], ids=["native", "emulated"])


class City(BaseModel):
    name: str
    country_code: str = Field(min_length=2)


class Forecast(BaseModel):
    city: City
    days: list[int]
    sunny: bool


ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Forecast"}]


def openai_client(relay) -> openai.OpenAI:
    return openai.OpenAI(base_url=relay.url + "/v1", api_key=KEY, max_retries=0)


def test_the_catalog_says_which_model_is_native() -> None:
    assert NATIVE.structured_outputs
    assert not EMULATED.structured_outputs


@BOTH
def test_anthropic_parse_returns_a_validated_instance(relay, model: Model) -> None:
    message = relay.client().messages.parse(
        model=model.alias,
        max_tokens=500,
        messages=user("Forecast for Lisbon"),
        output_format=Forecast,
    )
    assert isinstance(message.parsed_output, Forecast)
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]


@BOTH
def test_anthropic_streamed_parse_returns_a_validated_instance(relay, model: Model) -> None:
    with relay.client().messages.stream(
        model=model.alias,
        max_tokens=500,
        messages=user("Forecast for Lisbon"),
        output_format=Forecast,
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert Forecast.model_validate_json(text)
    assert isinstance(final.parsed_output, Forecast)
    assert final.stop_reason == "end_turn"


@BOTH
def test_openai_parse_returns_a_validated_instance(relay, model: Model) -> None:
    completion = openai_client(relay).chat.completions.parse(
        model=model.alias, messages=ASK, response_format=Forecast
    )
    choice = completion.choices[0]
    assert isinstance(choice.message.parsed, Forecast)
    assert choice.finish_reason == "stop"


@BOTH
def test_openai_streamed_parse_returns_a_validated_instance(relay, model: Model) -> None:
    with openai_client(relay).chat.completions.stream(
        model=model.alias, messages=ASK, response_format=Forecast
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Forecast)
    assert final.choices[0].finish_reason == "stop"


@BOTH
def test_openai_json_object_mode_answers_a_json_object(relay, model: Model) -> None:
    completion = openai_client(relay).chat.completions.create(
        model=model.alias,
        messages=[{"role": "user", "content": "Reply in JSON"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    assert completion.choices[0].finish_reason == "stop"


@BOTH
def test_langchain_chat_anthropic_with_structured_output(relay, model: Model) -> None:
    chat = ChatAnthropic(  # type: ignore[call-arg]
        model=model.alias, base_url=relay.url, api_key=KEY, max_retries=0, max_tokens=500
    )
    assert isinstance(chat.with_structured_output(Forecast).invoke("Forecast"), Forecast)


@BOTH
def test_langchain_chat_openai_with_structured_output(relay, model: Model) -> None:
    chat = ChatOpenAI(model=model.alias, base_url=relay.url + "/v1", api_key=KEY, max_retries=0)
    assert isinstance(chat.with_structured_output(Forecast).invoke("Forecast"), Forecast)


def test_a_schema_with_a_non_object_root_is_emulated_and_unwrapped(relay) -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    message = relay.client().messages.create(
        model=EMULATED.alias,
        max_tokens=200,
        messages=user("Numbers"),
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert message.content[0].type == "text"
    assert json.loads(message.content[0].text) == [1]


def test_the_beta_output_format_field_maps_to_output_config(relay) -> None:
    schema = City.model_json_schema() | {"additionalProperties": False}
    message = relay.client().messages.create(
        model=NATIVE.alias,
        max_tokens=200,
        messages=user("A city"),
        extra_body={"output_format": {"type": "json_schema", "schema": schema}},
        extra_headers={"anthropic-beta": "structured-outputs-2025-11-13"},
    )
    assert message.content[0].type == "text"
    assert City.model_validate_json(message.content[0].text)


def test_emulation_with_the_callers_tools_is_refused_saying_what_to_do(relay) -> None:
    tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {}}}
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    with pytest.raises(anthropic.BadRequestError, match="structured outputs"):
        relay.client().messages.create(
            model=EMULATED.alias,
            max_tokens=200,
            messages=user("x"),
            tools=[tool],  # type: ignore[list-item]
            output_config={"format": {"type": "json_schema", "schema": schema}},
        )
    assert relay.reached_backend() == 0


CLOSED = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(("model", "native"), [(NATIVE, True), (EMULATED, False)])
def test_bedrock_gets_the_format_natively_or_a_forced_tool(
    relay, bedrock_bodies, model: Model, native: bool
) -> None:
    relay.client().messages.create(
        model=model.alias,
        max_tokens=100,
        messages=user("n"),
        output_config={"format": {"type": "json_schema", "schema": CLOSED}},
    )
    [body] = bedrock_bodies
    if native:
        assert body["output_config"]["format"]["schema"] == CLOSED
        assert "tools" not in body
    else:
        assert "output_config" not in body
        assert body["tools"][0]["input_schema"] == CLOSED
        assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}


def test_an_open_schema_is_emulated_even_on_a_native_model(relay, bedrock_bodies) -> None:
    open_schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    message = relay.client().messages.create(
        model=NATIVE.alias,
        max_tokens=100,
        messages=user("n"),
        output_config={"format": {"type": "json_schema", "schema": open_schema}},
    )
    assert "tools" in bedrock_bodies[0]
    assert json.loads(message.content[0].text) == {"n": 1}  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_display_omitted_empties_the_thinking_text(relay, stream: bool) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024, "display": "omitted"}
    kwargs: dict[str, Any] = {
        "model": NATIVE.alias,
        "max_tokens": 2000,
        "messages": user("think"),
        "extra_body": {"thinking": thinking},
    }
    if stream:
        with relay.client().messages.stream(**kwargs) as events:
            deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
            message = events.get_final_message()
        assert "thinking_delta" not in deltas
        assert "signature_delta" in deltas
    else:
        message = relay.client().messages.create(**kwargs)
    block = message.content[0]
    assert block.type == "thinking"
    assert block.thinking == ""
    assert block.signature


def test_a_streamed_non_object_schema_is_unwrapped_in_one_text_delta(relay) -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 3}
    with relay.client().messages.stream(
        model=EMULATED.alias,
        max_tokens=200,
        messages=user("Numbers"),
        output_config={"format": {"type": "json_schema", "schema": schema}},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert json.loads(text) == [1, 1, 1]
    assert final.stop_reason == "end_turn"
