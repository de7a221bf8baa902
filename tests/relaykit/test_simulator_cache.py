"""Prompt caching: a cache_control prefix is written on first use and read afterwards."""

from __future__ import annotations

import json

from relay.catalog import DEFAULT_MODEL
from tests.relaykit.simulator_calls import invoke, messages_body

LONG_SYSTEM = "You answer questions about the relay kit. " * 100


def cached_body(question: str = "Hello?") -> dict:
    return messages_body(
        question,
        system=[{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}],
    )


def test_first_request_writes_the_cached_prefix(sim, bedrock):
    usage = invoke(bedrock, cached_body())["usage"]

    assert usage["cache_creation_input_tokens"] > 250
    assert usage["cache_read_input_tokens"] == 0


def test_second_request_reads_the_prefix_it_wrote(sim, bedrock):
    written = invoke(bedrock, cached_body())["usage"]

    usage = invoke(bedrock, cached_body("A different question?"))["usage"]

    assert usage["cache_read_input_tokens"] == written["cache_creation_input_tokens"]
    assert usage["cache_creation_input_tokens"] == 0


def test_cached_tokens_are_left_out_of_input_tokens(sim, bedrock):
    total = bedrock.count_tokens(
        modelId=DEFAULT_MODEL.bedrock_id,
        input={"invokeModel": {"body": json.dumps(cached_body()).encode()}},
    )["inputTokens"]

    usage = invoke(bedrock, cached_body())["usage"]

    assert usage["input_tokens"] + usage["cache_creation_input_tokens"] == total
    assert usage["input_tokens"] < total


def test_a_changed_prefix_is_written_again(sim, bedrock):
    invoke(bedrock, cached_body())
    changed = cached_body()
    changed["system"][0]["text"] += " Be brief."

    usage = invoke(bedrock, changed)["usage"]

    assert usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation_input_tokens"] > 0


def test_requests_without_cache_control_use_no_cache(sim, bedrock):
    invoke(bedrock, messages_body(system=LONG_SYSTEM))

    usage = invoke(bedrock, messages_body(system=LONG_SYSTEM))["usage"]

    assert usage["cache_creation_input_tokens"] == 0
    assert usage["cache_read_input_tokens"] == 0


def test_cache_token_headers_are_sent_when_the_cache_is_used(sim, bedrock):
    invoke(bedrock, cached_body())

    response = bedrock.invoke_model(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(cached_body())
    )
    usage = json.loads(response["body"].read())["usage"]
    headers = response["ResponseMetadata"]["HTTPHeaders"]

    read = headers["x-amzn-bedrock-cache-read-input-token-count"]
    assert read == str(usage["cache_read_input_tokens"])
    assert headers["x-amzn-bedrock-input-token-count"] == str(usage["input_tokens"])
