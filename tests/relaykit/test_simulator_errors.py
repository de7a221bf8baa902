"""Bedrock's errors as boto3 raises them: injected faults, rates and validation failures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from relay.catalog import DEFAULT_MODEL
from relaykit.simulator import SimulatorConfig, SimulatorServer, simulator_client
from relaykit.simulator.models import ModelResolver
from tests.relaykit.simulator_calls import control, invoke, messages_body, stream

UPFRONT_FAULTS = [
    ("throttling", "ThrottlingException", 429),
    ("internal", "InternalServerException", 500),
    ("unavailable", "ServiceUnavailableException", 503),
    ("timeout", "ModelTimeoutException", 408),
    ("model_not_ready", "ModelNotReadyException", 429),
    ("model_error", "ModelErrorException", 424),
    ("access_denied", "AccessDeniedException", 403),
    ("not_found", "ResourceNotFoundException", 404),
    ("quota", "ServiceQuotaExceededException", 400),
    ("validation", "ValidationException", 400),
]


def validation_message(bedrock, body) -> str:
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.invoke_model(modelId=DEFAULT_MODEL.bedrock_id, body=body)
    return str(raised.value.response["Error"]["Message"])


@pytest.mark.parametrize(("fault", "exception", "status"), UPFRONT_FAULTS)
def test_injected_fault_raises_the_modelled_boto3_exception(sim, bedrock, fault, exception, status):
    control(sim, "faults", {"next": [fault]})

    with pytest.raises(getattr(bedrock.exceptions, exception)) as raised:
        invoke(bedrock, messages_body())

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"]["Message"]


def test_injected_fault_fails_a_stream_before_it_starts(sim, bedrock):
    control(sim, "faults", {"next": ["throttling"]})

    with pytest.raises(bedrock.exceptions.ThrottlingException):
        stream(bedrock, messages_body())


def test_injected_fault_applies_to_count_tokens(sim, bedrock):
    control(sim, "faults", {"next": ["unavailable"]})

    with pytest.raises(bedrock.exceptions.ServiceUnavailableException):
        bedrock.count_tokens(
            modelId=DEFAULT_MODEL.bedrock_id,
            input={"invokeModel": {"body": json.dumps(messages_body()).encode()}},
        )


def test_faults_fail_the_next_requests_in_order_then_stop(sim, bedrock):
    control(sim, "faults", {"next": ["throttling", "internal"]})

    with pytest.raises(bedrock.exceptions.ThrottlingException):
        invoke(bedrock, messages_body())
    with pytest.raises(bedrock.exceptions.InternalServerException):
        invoke(bedrock, messages_body())
    assert invoke(bedrock, messages_body())["stop_reason"] == "end_turn"


def test_a_mid_stream_fault_waits_for_a_stream(sim, bedrock):
    control(sim, "faults", {"next": ["mid_stream"]})

    invoke(bedrock, messages_body())

    assert control(sim, "faults") == {"pending": ["mid_stream"], "delays": []}


def test_an_unknown_fault_name_is_refused(sim):
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(sim, "faults", {"next": ["gremlins"]})

    assert raised.value.code == 400
    assert "gremlins" in json.loads(raised.value.read())["message"]


def test_reset_drops_queued_faults(sim, bedrock):
    control(sim, "faults", {"next": ["throttling"]})

    control(sim, "reset", {})

    assert invoke(bedrock, messages_body())["stop_reason"] == "end_turn"


def test_a_throttle_rate_of_one_throttles_every_request():
    with SimulatorServer(SimulatorConfig(throttle_rate=1.0)) as throttled:
        client = simulator_client(throttled.endpoint_url)

        with pytest.raises(client.exceptions.ThrottlingException):
            invoke(client, messages_body())


def test_fault_rates_repeat_for_the_same_seed():
    def outcomes(seed: int) -> list[str]:
        config = SimulatorConfig(throttle_rate=0.3, server_error_rate=0.3, seed=seed)
        with SimulatorServer(config) as server:
            client = simulator_client(server.endpoint_url)
            results = []
            for _ in range(12):
                try:
                    invoke(client, messages_body())
                    results.append("ok")
                except ClientError as error:
                    results.append(error.response["Error"]["Code"])
            return results

    first = outcomes(7)

    assert first == outcomes(7)
    assert {"ok", "ThrottlingException", "InternalServerException"} <= set(first)


def test_unknown_model_is_a_validation_exception(sim, bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        invoke(bedrock, messages_body(), model_id=f"{DEFAULT_MODEL.bedrock_id}-unknown")

    assert raised.value.response["Error"]["Message"] == "The provided model identifier is invalid."


def test_an_anthropic_model_id_is_not_a_bedrock_model_id(sim, bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException):
        invoke(bedrock, messages_body(), model_id=DEFAULT_MODEL.anthropic_id)


def test_unknown_top_level_key_is_extraneous(sim, bedrock):
    message = validation_message(bedrock, json.dumps(messages_body(top_n=1)))

    assert message == (
        "Malformed input request: #: extraneous key [top_n] is not permitted, "
        "please reformat your input and try again."
    )


@pytest.mark.parametrize("key", ["model", "stream", "service_tier"])
def test_anthropic_api_only_keys_are_extraneous(sim, bedrock, key):
    message = validation_message(bedrock, json.dumps(messages_body(**{key: "x"})))

    assert f"extraneous key [{key}]" in message


def test_context_management_needs_its_beta_flag(sim, bedrock):
    edits = {"edits": [{"type": "clear_tool_uses_20250919"}]}

    message = validation_message(bedrock, json.dumps(messages_body(context_management=edits)))

    assert "extraneous key [context_management]" in message


def test_context_management_is_accepted_with_its_beta_flag(sim, bedrock):
    body = messages_body(
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
        anthropic_beta=["context-management-2025-06-27"],
    )

    assert invoke(bedrock, body)["type"] == "message"


def test_missing_anthropic_version_is_reported(sim, bedrock):
    body = messages_body()
    del body["anthropic_version"]

    message = validation_message(bedrock, json.dumps(body))

    assert "#: required key [anthropic_version] not found" in message


def test_wrong_anthropic_version_is_reported(sim, bedrock):
    message = validation_message(bedrock, json.dumps(messages_body(anthropic_version="v2")))

    assert "#/anthropic_version: v2 is not a valid enum value" in message


def test_max_tokens_above_the_model_limit_is_refused(sim, bedrock):
    too_many = DEFAULT_MODEL.max_output_tokens + 1

    message = validation_message(bedrock, json.dumps(messages_body(max_tokens=too_many)))

    assert message.startswith(f"max_tokens: {too_many} > {DEFAULT_MODEL.max_output_tokens}")


def test_max_tokens_of_the_wrong_type_is_malformed(sim, bedrock):
    message = validation_message(bedrock, json.dumps(messages_body(max_tokens="lots")))

    assert "#/max_tokens: expected type: Integer, found: String" in message


def test_a_body_that_is_not_json_is_malformed(sim, bedrock):
    message = validation_message(bedrock, b"{not json")

    assert message == "Malformed input request, please reformat your input and try again."


def test_empty_messages_are_refused(sim, bedrock):
    message = validation_message(bedrock, json.dumps({**messages_body(), "messages": []}))

    assert "#/messages: expected minimum item count: 1" in message


def test_a_bad_role_is_refused(sim, bedrock):
    body = messages_body()
    body["messages"][0]["role"] = "tool"

    message = validation_message(bedrock, json.dumps(body))

    assert "#/messages/0/role: tool is not a valid enum value" in message


def test_thinking_budget_must_be_below_max_tokens(sim, bedrock):
    body = messages_body(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024})

    message = validation_message(bedrock, json.dumps(body))

    assert "budget_tokens" in message


def test_tool_choice_must_name_a_given_tool(sim, bedrock):
    body = messages_body(
        tools=[{"name": "a", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "b"},
    )

    message = validation_message(bedrock, json.dumps(body))

    assert "'b'" in message


def test_count_tokens_on_a_model_without_it_is_refused():
    no_counting = replace(DEFAULT_MODEL, bedrock_count_tokens=False)
    with SimulatorServer() as server:
        server.state.models = ModelResolver([no_counting])
        client = simulator_client(server.endpoint_url)

        with pytest.raises(client.exceptions.ValidationException) as raised:
            client.count_tokens(
                modelId=DEFAULT_MODEL.bedrock_id,
                input={"invokeModel": {"body": json.dumps(messages_body()).encode()}},
            )

    assert "doesn't support counting tokens" in raised.value.response["Error"]["Message"]


def test_count_tokens_validates_the_body_like_invoke(sim, bedrock):
    body = json.dumps(messages_body(stream=True)).encode()

    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.count_tokens(
            modelId=DEFAULT_MODEL.bedrock_id, input={"invokeModel": {"body": body}}
        )

    assert "extraneous key [stream]" in raised.value.response["Error"]["Message"]


def test_raw_error_response_has_the_rest_json_shape(sim):
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{sim.endpoint_url}/model/nope/invoke", data=b"{}", method="POST"
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310

    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(raised.value.read()) == {
        "message": "The provided model identifier is invalid."
    }
