"""CountTokens: the same count InvokeModel reports, for invokeModel and converse inputs."""

from __future__ import annotations

import json

from relay.catalog import DEFAULT_MODEL, MODELS
from tests.relaykit.simulator_calls import WEATHER_TOOL, invoke, messages_body


def count(bedrock, body) -> int:
    response = bedrock.count_tokens(
        modelId=DEFAULT_MODEL.bedrock_id, input={"invokeModel": {"body": json.dumps(body).encode()}}
    )
    return int(response["inputTokens"])


def test_count_equals_invoke_input_tokens(sim, bedrock):
    body = messages_body(system="Be terse.", tools=[WEATHER_TOOL])

    assert count(bedrock, body) == invoke(bedrock, body)["usage"]["input_tokens"]


def test_count_grows_with_the_prompt(sim, bedrock):
    assert count(bedrock, messages_body("word " * 200)) > count(bedrock, messages_body("word"))


def test_tools_add_to_the_count(sim, bedrock):
    assert count(bedrock, messages_body(tools=[WEATHER_TOOL])) > count(bedrock, messages_body())


def test_count_accepts_every_inference_profile_of_a_counting_model(sim, bedrock):
    counting = [m for m in MODELS if m.bedrock_count_tokens]
    profile_ids = [p.profile_id(m.bedrock_id) for m in counting for p in m.inference_profiles]
    body = json.dumps(messages_body()).encode()

    counts = {
        bedrock.count_tokens(modelId=model_id, input={"invokeModel": {"body": body}})["inputTokens"]
        for model_id in profile_ids
    }

    assert counts == {count(bedrock, messages_body())}


def test_converse_input_is_counted_like_the_same_messages(sim, bedrock):
    converse = {
        "messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}],
        "system": [{"text": "Be terse."}],
    }

    response = bedrock.count_tokens(modelId=DEFAULT_MODEL.bedrock_id, input={"converse": converse})

    body = messages_body(system=[{"type": "text", "text": "Be terse."}])
    body["messages"][0]["content"] = [{"type": "text", "text": "What is the capital of France?"}]
    assert response["inputTokens"] == count(bedrock, body)


def test_counting_writes_nothing_to_the_prompt_cache(sim, bedrock):
    body = messages_body(
        system=[{"type": "text", "text": "Cached " * 300, "cache_control": {"type": "ephemeral"}}]
    )
    count(bedrock, body)

    usage = invoke(bedrock, body)["usage"]

    assert usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation_input_tokens"] > 0
