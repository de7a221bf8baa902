"""The control API: stats by operation and model, and reset."""

from __future__ import annotations

import json

import pytest

from relay.catalog import DEFAULT_MODEL
from tests.relaykit.simulator_calls import control, invoke, messages_body, stream


def test_stats_start_empty(sim):
    assert control(sim, "stats") == {"total": 0, "operations": {}, "errors": {}}


def test_stats_count_requests_by_operation_and_model_id_as_sent(sim, bedrock):
    profile_id = DEFAULT_MODEL.inference_profiles[0].profile_id(DEFAULT_MODEL.bedrock_id)
    invoke(bedrock, messages_body())
    invoke(bedrock, messages_body(), profile_id)
    stream(bedrock, messages_body())

    stats = control(sim, "stats")

    assert stats["total"] == 3
    assert stats["operations"]["InvokeModel"] == {
        "total": 2,
        "models": {DEFAULT_MODEL.bedrock_id: 1, profile_id: 1},
    }
    assert stats["operations"]["InvokeModelWithResponseStream"]["total"] == 1


def test_stats_count_count_tokens(sim, bedrock):
    bedrock.count_tokens(
        modelId=DEFAULT_MODEL.bedrock_id,
        input={"invokeModel": {"body": json.dumps(messages_body()).encode()}},
    )

    assert control(sim, "stats")["operations"]["CountTokens"]["total"] == 1


def test_rejected_requests_are_counted_with_their_error(sim, bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException):
        invoke(bedrock, messages_body(), model_id="not-a-model")

    stats = control(sim, "stats")

    assert stats["operations"]["InvokeModel"]["models"] == {"not-a-model": 1}
    assert stats["errors"] == {"ValidationException": 1}


def test_mid_stream_errors_are_counted(sim, bedrock):
    control(sim, "faults", {"next": ["mid_stream_throttling"]})
    response = bedrock.invoke_model_with_response_stream(
        modelId=DEFAULT_MODEL.bedrock_id, body=json.dumps(messages_body())
    )
    with pytest.raises(Exception, match="throttlingException"):
        list(response["body"])

    assert control(sim, "stats")["errors"] == {"ThrottlingException": 1}


def test_reset_clears_the_stats(sim, bedrock):
    invoke(bedrock, messages_body())

    control(sim, "reset", {})

    assert control(sim, "stats")["total"] == 0


def test_control_requests_are_not_counted(sim):
    control(sim, "faults", {"next": []})
    control(sim, "faults")

    assert control(sim, "stats")["total"] == 0
