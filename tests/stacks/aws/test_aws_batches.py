"""Message Batches in the relay stacks: the bucket, Bedrock's batch service role and the relay's
grants, found by name in the session's synthesised templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_stack_helpers import DEFAULT_OVERRIDES, RELAY_HONG_KONG, RELAY_PRIMARY, resources
from conftest import synthesize

from stacks.aws.constructs.batches import JOB_ACTIONS, RETENTION_DAYS

STACKS = (RELAY_PRIMARY, RELAY_HONG_KONG)


def _one(template: dict[str, Any], resource_type: str, id_prefix: str) -> tuple[str, Any]:
    (found,) = [
        (k, v) for k, v in resources(template, resource_type).items() if k.startswith(id_prefix)
    ]
    return found


def _statements(template: dict[str, Any], role_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found[statement.get("Sid", "")] = statement
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_bucket_is_encrypted_private_tls_only_and_expires_batches(
    synthesis: Any, stack: str
) -> None:
    template = synthesis.templates[stack]
    bucket_id, bucket = _one(template, "AWS::S3::Bucket", "BatchesBucket")
    props = bucket["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == RETENTION_DAYS == 29 + 1 + 1
    assert lifecycle["Status"] == "Enabled"
    assert bucket["DeletionPolicy"] == "Retain"
    _, policy = _one(template, "AWS::S3::BucketPolicy", "BatchesBucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", STACKS)
def test_bedrock_assumes_the_service_role_only_for_this_accounts_batch_jobs(
    synthesis: Any, stack: str
) -> None:
    template = synthesis.templates[stack]
    _, role = _one(template, "AWS::IAM::Role", "BatchesServiceRole")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    conditions = trust["Condition"]
    assert set(conditions) == {"StringEquals", "ArnEquals"}
    assert set(conditions["StringEquals"]) == {"aws:SourceAccount"}
    source = conditions["ArnEquals"]["aws:SourceArn"]
    assert ":model-invocation-job/*" in str(source)


@pytest.mark.parametrize("stack", STACKS)
def test_the_service_role_reaches_exactly_the_bucket_and_the_relays_models(
    synthesis: Any, stack: str
) -> None:
    template = synthesis.templates[stack]
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "BatchesBucket")
    role_id, _ = _one(template, "AWS::IAM::Role", "BatchesServiceRole")
    statements = _statements(template, role_id)
    objects = statements["ReadWriteBatches"]
    assert objects["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/batches/*"]]
    }
    listing = statements["ListBatches"]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    invoke = [s for sid, s in statements.items() if sid not in ("ReadWriteBatches", "ListBatches")]
    assert invoke
    for statement in invoke:
        assert "bedrock:InvokeModel" in statement["Action"]
        assert "*" not in str(statement["Resource"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_relay_may_run_jobs_pass_only_that_role_to_bedrock_and_use_the_bucket(
    synthesis: Any, stack: str
) -> None:
    template = synthesis.templates[stack]
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "BatchesBucket")
    service_role_id, _ = _one(template, "AWS::IAM::Role", "BatchesServiceRole")
    relay_role_id, _ = _one(template, "AWS::IAM::Role", "RelayHandlerRole")
    statements = _statements(template, relay_role_id)
    jobs = statements["BatchJobs"]
    assert jobs["Action"] == list(JOB_ACTIONS)
    assert "bedrock:ListModelInvocationJobs" not in jobs["Action"]
    assert any(":model-invocation-job/*" in str(r) for r in jobs["Resource"])
    passing = statements["PassBatchRole"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Resource"] == {"Fn::GetAtt": [service_role_id, "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }
    objects = statements["BatchObjects"]
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert bucket_id in str(objects["Resource"])
    _, function = _one(template, "AWS::Lambda::Function", "RelayHandler")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["RELAY_BATCH_BUCKET"] == {"Ref": bucket_id}
    assert variables["RELAY_BATCH_ROLE_ARN"] == {"Fn::GetAtt": [service_role_id, "Arn"]}


def test_the_stacks_pass_cdk_nag_with_batches(synthesis: Any) -> None:
    assert synthesis.validation_error is None


def test_batches_can_be_switched_off(tmp_path: Path) -> None:
    off = synthesize(tmp_path, {**DEFAULT_OVERRIDES, "relaykit.batches.enabled": False})
    template = off.templates[RELAY_PRIMARY]
    assert resources(template, "AWS::S3::Bucket") == {}
    _, function = _one(template, "AWS::Lambda::Function", "RelayHandler")
    assert "RELAY_BATCH_BUCKET" not in function["Properties"]["Environment"]["Variables"]
    assert off.validation_error is None
