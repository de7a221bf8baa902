"""The invocation-logging custom resource against moto's Bedrock: it reads the region's existing
configuration first, never replaces a different one without TakeOver, and restores on delete
(a rollback included) what was there before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from model_access.handler import BedrockControl, ModelAccessError, dispatch

OURS = {"LogGroupName": "relay-invocations", "RoleArn": "arn:aws:iam::123456789012:role/ours"}
CENTRAL_AUDIT = {
    "s3Config": {"bucketName": "central-audit", "keyPrefix": "bedrock/"},
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": False,
}


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockControl]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield cast(BedrockControl, boto3.client("bedrock", region_name="us-east-1"))


def _event(request_type: str, physical_id: str | None = None, **properties: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResourceType": "Custom::BedrockInvocationLogging",
        "LogicalResourceId": "InvocationLogging",
        "ResourceProperties": {**OURS, **properties},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def _config(bedrock: BedrockControl) -> dict[str, Any]:
    config: dict[str, Any] = bedrock.get_model_invocation_logging_configuration().get(
        "loggingConfig", {}
    )
    return config


def _ours_is_set(bedrock: BedrockControl, properties: dict[str, str] = OURS) -> bool:
    config = _config(bedrock)
    return (
        config.get("cloudWatchConfig")
        == {
            "logGroupName": properties["LogGroupName"],
            "roleArn": properties["RoleArn"],
        }
        and config.get("textDataDeliveryEnabled") is True
    )


def test_no_prior_configuration_is_set_and_removed_on_delete(bedrock: BedrockControl) -> None:
    physical_id, data = dispatch(_event("Create"), bedrock, 60)
    assert _ours_is_set(bedrock)
    assert data == {"LogGroupName": OURS["LogGroupName"]}
    dispatch(_event("Delete", physical_id), bedrock, 60)
    assert _config(bedrock) == {}


def test_the_same_configuration_already_there_is_kept(bedrock: BedrockControl) -> None:
    first, _ = dispatch(_event("Create"), bedrock, 60)
    second, _ = dispatch(_event("Create"), bedrock, 60)
    assert _ours_is_set(bedrock)
    assert second == first


def test_a_different_configuration_is_refused_without_take_over(bedrock: BedrockControl) -> None:
    bedrock.put_model_invocation_logging_configuration(loggingConfig=CENTRAL_AUDIT)
    with pytest.raises(ModelAccessError, match=r"relaykit\.invocationLogging\.takeOver"):
        dispatch(_event("Create"), bedrock, 60)
    assert _config(bedrock)["s3Config"] == CENTRAL_AUDIT["s3Config"]
    # CloudFormation rolls the failed create back with a Delete: that changes nothing either.
    dispatch(_event("Delete", "InvocationLogging"), bedrock, 60)
    assert _config(bedrock)["s3Config"] == CENTRAL_AUDIT["s3Config"]


def test_take_over_replaces_and_delete_restores_the_prior_one(bedrock: BedrockControl) -> None:
    bedrock.put_model_invocation_logging_configuration(loggingConfig=CENTRAL_AUDIT)
    physical_id, _ = dispatch(_event("Create", TakeOver="true"), bedrock, 60)
    assert _ours_is_set(bedrock)
    assert len(physical_id) <= 1024
    dispatch(_event("Delete", physical_id, TakeOver="true"), bedrock, 60)
    restored = _config(bedrock)
    assert restored["s3Config"] == CENTRAL_AUDIT["s3Config"]
    assert restored["imageDataDeliveryEnabled"] is True
    assert "cloudWatchConfig" not in restored


def test_rollback_of_an_update_puts_the_previous_configuration_back(
    bedrock: BedrockControl,
) -> None:
    physical_id, _ = dispatch(_event("Create"), bedrock, 60)
    new = {"LogGroupName": "renamed", "RoleArn": OURS["RoleArn"]}
    update = _event("Update", physical_id, **new) | {"OldResourceProperties": OURS}
    assert dispatch(update, bedrock, 60)[0] == physical_id
    assert _ours_is_set(bedrock, new)
    rollback = _event("Update", physical_id) | {"OldResourceProperties": new}
    dispatch(rollback, bedrock, 60)
    assert _ours_is_set(bedrock)


def test_delete_leaves_a_configuration_changed_since_alone(bedrock: BedrockControl) -> None:
    physical_id, _ = dispatch(_event("Create"), bedrock, 60)
    bedrock.put_model_invocation_logging_configuration(loggingConfig=CENTRAL_AUDIT)
    dispatch(_event("Delete", physical_id), bedrock, 60)
    assert _config(bedrock)["s3Config"] == CENTRAL_AUDIT["s3Config"]
