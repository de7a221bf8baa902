"""InvokeModel against the simulator with a real boto3 client: replies, tools, thinking, stops."""

from __future__ import annotations

import json

import pytest

from relay.catalog import DEFAULT_MODEL, MODELS
from tests.relaykit.simulator_calls import WEATHER_TOOL, invoke, messages_body

TIME_TOOL = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}},
}

ALL_MODEL_IDS = [
    model_id
    for model in MODELS
    for model_id in (
        model.bedrock_id,
        *(profile.profile_id(model.bedrock_id) for profile in model.inference_profiles),
    )
]


def test_reply_is_labelled_as_simulated_and_names_the_model(sim, bedrock):
    message = invoke(bedrock, messages_body())

    assert message["content"][0]["text"].startswith(f"[simulated {DEFAULT_MODEL.name} on Bedrock]")


def test_reply_is_an_anthropic_message_with_the_anthropic_model_id(sim, bedrock):
    message = invoke(bedrock, messages_body())

    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == DEFAULT_MODEL.anthropic_id
    assert message["id"].startswith("msg_bdrk_")
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None


def test_reply_counts_the_words_of_the_last_user_message_without_quoting_it(sim, bedrock):
    message = invoke(bedrock, messages_body("the zebra crossing smells of marmalade"))

    text = message["content"][0]["text"]
    assert "6 words" in text
    assert "zebra" not in text
    assert "marmalade" not in text


def test_same_request_gets_the_same_reply(sim, bedrock):
    first = invoke(bedrock, messages_body())
    second = invoke(bedrock, messages_body())

    assert first["content"] == second["content"]
    assert first["usage"] == second["usage"]
    assert first["id"] != second["id"]


def test_different_prompts_get_different_replies(sim, bedrock):
    first = invoke(bedrock, messages_body("one two three"))
    second = invoke(bedrock, messages_body("four five"))

    assert first["content"] != second["content"]


@pytest.mark.parametrize("model_id", ALL_MODEL_IDS)
def test_every_catalog_model_and_inference_profile_id_is_accepted(sim, bedrock, model_id):
    message = invoke(bedrock, messages_body(), model_id)

    model = next(m for m in MODELS if model_id.endswith(m.bedrock_id))
    assert message["model"] == model.anthropic_id


def test_an_inference_profile_arn_is_accepted(sim, bedrock):
    profile_id = DEFAULT_MODEL.inference_profiles[0].profile_id(DEFAULT_MODEL.bedrock_id)
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{profile_id}"

    message = invoke(bedrock, messages_body(), arn)

    assert message["model"] == DEFAULT_MODEL.anthropic_id


def test_response_headers_carry_bedrock_token_counts_and_latency(sim, bedrock):
    response = bedrock.invoke_model(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(messages_body())
    )
    message = json.loads(response["body"].read())
    headers = response["ResponseMetadata"]["HTTPHeaders"]

    assert headers["x-amzn-bedrock-input-token-count"] == str(message["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(message["usage"]["output_tokens"])
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]


def test_tools_are_answered_with_a_tool_use_of_the_first_tool(sim, bedrock):
    message = invoke(bedrock, messages_body(tools=[WEATHER_TOOL, TIME_TOOL]))

    tool_use = message["content"][-1]
    assert message["stop_reason"] == "tool_use"
    assert tool_use["type"] == "tool_use"
    assert tool_use["name"] == "get_weather"
    assert tool_use["id"].startswith("toolu_bdrk_")


def test_tool_input_has_each_required_property_with_a_fitting_value(sim, bedrock):
    message = invoke(bedrock, messages_body(tools=[WEATHER_TOOL]))

    tool_input = message["content"][-1]["input"]
    assert set(tool_input) == {"city", "days", "unit"}
    assert isinstance(tool_input["city"], str)
    assert isinstance(tool_input["days"], int)
    assert tool_input["days"] >= 1
    assert tool_input["unit"] == "celsius"


def test_tool_choice_tool_calls_the_named_tool_without_preamble(sim, bedrock):
    body = messages_body(
        tools=[WEATHER_TOOL, TIME_TOOL], tool_choice={"type": "tool", "name": "get_time"}
    )

    message = invoke(bedrock, body)

    assert [block["type"] for block in message["content"]] == ["tool_use"]
    assert message["content"][0]["name"] == "get_time"
    assert message["content"][0]["input"] == {}


def test_tool_choice_none_answers_in_text(sim, bedrock):
    message = invoke(bedrock, messages_body(tools=[WEATHER_TOOL], tool_choice={"type": "none"}))

    assert [block["type"] for block in message["content"]] == ["text"]
    assert message["stop_reason"] == "end_turn"


def test_a_tool_result_is_answered_in_text(sim, bedrock):
    first = invoke(bedrock, messages_body(tools=[WEATHER_TOOL]))
    tool_use = first["content"][-1]
    body = messages_body(tools=[WEATHER_TOOL])
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "Sunny, 21C"}
            ],
        },
    ]

    message = invoke(bedrock, body)

    assert [block["type"] for block in message["content"]] == ["text"]
    assert "1 tool result" in message["content"][0]["text"]
    assert message["stop_reason"] == "end_turn"


def test_thinking_comes_first_with_a_signature(sim, bedrock):
    body = messages_body(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024})

    message = invoke(bedrock, body)

    thinking, text = message["content"]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"].startswith("[simulated ")
    assert len(thinking["signature"]) > 40
    assert text["type"] == "text"


def test_stop_sequence_cuts_the_reply_before_it(sim, bedrock):
    full = invoke(bedrock, messages_body())["content"][0]["text"]

    message = invoke(bedrock, messages_body(stop_sequences=["no model"]))

    assert message["stop_reason"] == "stop_sequence"
    assert message["stop_sequence"] == "no model"
    assert message["content"][0]["text"] == full[: full.index("no model")]


def test_max_tokens_truncates_the_reply(sim, bedrock):
    full = invoke(bedrock, messages_body())

    message = invoke(bedrock, messages_body(max_tokens=5))

    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 5
    assert full["content"][0]["text"].startswith(message["content"][0]["text"])
    assert len(message["content"][0]["text"]) < len(full["content"][0]["text"])


def test_output_tokens_grow_with_the_reply(sim, bedrock):
    short = invoke(bedrock, messages_body(max_tokens=5))
    full = invoke(bedrock, messages_body())

    assert full["usage"]["output_tokens"] > short["usage"]["output_tokens"]


def test_input_tokens_are_about_four_characters_each(sim, bedrock):
    text = "word " * 400

    message = invoke(bedrock, messages_body(text))

    assert 450 <= message["usage"]["input_tokens"] <= 550


def test_auto_tool_choice_calls_no_tool_the_message_does_not_name(sim, bedrock):
    message = invoke(bedrock, messages_body("Say hello", tools=[WEATHER_TOOL, TIME_TOOL]))

    assert message["stop_reason"] == "end_turn"
    assert [block["type"] for block in message["content"]] == ["text"]


def test_auto_tool_choice_calls_the_tool_the_message_names(sim, bedrock):
    message = invoke(bedrock, messages_body("What time is it?", tools=[WEATHER_TOOL, TIME_TOOL]))

    assert message["content"][-1]["name"] == "get_time"


def test_any_tool_choice_calls_a_tool_even_unnamed(sim, bedrock):
    body = messages_body("Say hello", tools=[WEATHER_TOOL, TIME_TOOL], tool_choice={"type": "any"})

    assert invoke(bedrock, body)["content"][-1]["name"] == "get_weather"


def test_a_mid_conversation_system_message_is_refused_for_a_model_without_them(sim, bedrock):
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}],
    }
    with pytest.raises(bedrock.exceptions.ValidationException, match="role 'system'"):
        bedrock.invoke_model(modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(body))


FORECAST = {
    "type": "object",
    "properties": {
        "city": {"$ref": "#/$defs/City"},
        "days": {"type": "array", "items": {"type": "integer"}, "minItems": 2},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["city", "days", "when"],
    "additionalProperties": False,
    "$defs": {
        "City": {
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 30}},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
}


def _with_format(schema: dict, **extra: object) -> str:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "forecast"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
        **extra,
    }
    return json.dumps(body)


def test_output_config_format_gets_json_that_fits_the_schema(sim, bedrock):
    native = next(m for m in MODELS if m.structured_outputs)
    reply = bedrock.invoke_model(modelId=native.bedrock_id, body=_with_format(FORECAST))
    message = json.loads(reply["body"].read())
    value = json.loads(message["content"][0]["text"])
    assert len(value["city"]["name"]) >= 30
    assert value["days"] == [1, 1]
    assert value["when"] == "2026-01-01"
    assert message["stop_reason"] == "end_turn"


def test_output_config_format_is_refused_where_bedrock_has_no_structured_outputs(sim, bedrock):
    other = next(m for m in MODELS if m.served and not m.structured_outputs and m.bedrock_in_region)
    with pytest.raises(bedrock.exceptions.ValidationException, match="structured outputs"):
        bedrock.invoke_model(modelId=other.bedrock_id, body=_with_format(FORECAST))


def test_an_open_object_schema_is_refused(sim, bedrock):
    native = next(m for m in MODELS if m.structured_outputs)
    with pytest.raises(bedrock.exceptions.ValidationException, match="additionalProperties"):
        bedrock.invoke_model(modelId=native.bedrock_id, body=_with_format({"type": "object"}))


def test_output_config_effort_needs_its_beta_flag(sim, bedrock):
    body = json.loads(_with_format(FORECAST))
    body["output_config"] = {"effort": "low"}
    with pytest.raises(bedrock.exceptions.ValidationException, match="effort"):
        bedrock.invoke_model(modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(body))
    body["anthropic_beta"] = ["effort-2025-11-24"]
    assert bedrock.invoke_model(modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(body))
