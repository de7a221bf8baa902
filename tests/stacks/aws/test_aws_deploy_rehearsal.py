"""The deploy rehearsal: the pinned CDK CLI bootstraps, deploys, updates and destroys the app (the
cdk.json defaults, as users deploy it) in moto's server on localhost, through moto's real
CloudFormation API; boto3 then reads the resources back from that server.

The rehearsal runs once per module (two syntheses and three CLI deployments, about 55 s on two
cores). Tests run in file order: the first deployment's read-backs, then the update, then the
destroy, each stage a module fixture built on the one before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_stack_helpers import ACCOUNT, OBSERVABILITY, PREFIX, RELAY_PRIMARY

from relaykit.rehearsal import REGION, DeployedStack, DeployRehearsal, RehearsalError
from relaykit.rehearsal_aws import PLACEHOLDER

ACCESS = f"{PREFIX}-BedrockAccess-{REGION}"
STACKS = {ACCESS, RELAY_PRIMARY, OBSERVABILITY}
BOOTSTRAP_BUCKET = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
UPDATED_MEMORY_MB = 2048


@dataclass
class Run:
    rehearsal: DeployRehearsal
    created: dict[str, DeployedStack]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with DeployRehearsal(say=lambda *args, **kwargs: None) as rehearsal:
        yield Run(rehearsal, rehearsal.deploy())


@pytest.fixture(scope="module")
def updated(run: Run) -> dict[str, DeployedStack]:
    return run.rehearsal.deploy({"relaykit.lambda.memoryMb": str(UPDATED_MEMORY_MB)})


@pytest.fixture(scope="module")
def destroyed(run: Run, updated: dict[str, DeployedStack]) -> dict[str, DeployedStack]:
    run.rehearsal.destroy()
    return run.rehearsal.describe()


def _physical(run: Run, stack_name: str, resource_type: str) -> list[str]:
    cfn = run.rehearsal.client("cloudformation")
    found = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return [r["PhysicalResourceId"] for r in found if r.get("ResourceType") == resource_type]


def _relay_function(run: Run) -> dict[str, Any]:
    lam = run.rehearsal.client("lambda")
    configs = [
        lam.get_function_configuration(FunctionName=name)
        for name in _physical(run, RELAY_PRIMARY, "AWS::Lambda::Function")
    ]
    return next(c for c in configs if c["Handler"] == "run.sh")


def _template(run: Run, stack_name: str) -> dict[str, Any]:
    assert run.rehearsal.assembly is not None
    path = run.rehearsal.assembly / f"{stack_name}.template.json"
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def test_every_stack_of_the_app_is_created(run: Run) -> None:
    assert set(run.created) == STACKS
    assert {s.status for s in run.created.values()} == {"CREATE_COMPLETE"}


def test_cdk_bootstrap_created_the_toolkit_stack_and_its_version_parameter(run: Run) -> None:
    cfn = run.rehearsal.client("cloudformation")
    toolkit = cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    version = run.rehearsal.client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")
    assert int(version["Parameter"]["Value"]) >= 6


def test_the_cli_published_the_relay_asset_that_the_function_runs(run: Run) -> None:
    function = _relay_function(run)
    assert run.rehearsal.assembly is not None
    manifest = json.loads((run.rehearsal.assembly / f"{RELAY_PRIMARY}.assets.json").read_text())
    s3 = run.rehearsal.client("s3")
    sizes = {
        d["objectKey"]: s3.head_object(Bucket=BOOTSTRAP_BUCKET, Key=d["objectKey"])["ContentLength"]
        for asset in manifest["files"].values()
        for d in asset["destinations"].values()
    }
    assert function["CodeSize"] in sizes.values()
    # The relay with its dependencies, not a placeholder zip.
    assert function["CodeSize"] > 1_000_000


def test_relay_lambda_configuration_reads_back(run: Run) -> None:
    function = _relay_function(run)
    env = function["Environment"]["Variables"]
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["RELAY_BEDROCK_REGION"] == REGION
    assert function["Timeout"] == 900
    assert function["MemorySize"] == 512
    assert int(env["RELAY_MAX_BODY_BYTES"]) < 6_291_456


def test_relay_spools_usage_to_a_queue_with_a_dead_letter_queue(run: Run) -> None:
    queue_url = _relay_function(run)["Environment"]["Variables"]["RELAY_USAGE_SPOOL"]
    assert run.created[RELAY_PRIMARY].outputs["UsageSpoolUrl"] == queue_url
    sqs = run.rehearsal.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 24
    dead_letters = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].split(":")[-1])
    assert dead_letters["QueueUrl"] != queue_url


def test_rest_api_reads_back_with_its_proxy_method(run: Run) -> None:
    apigw = run.rehearsal.client("apigateway")
    (api_id,) = _physical(run, RELAY_PRIMARY, "AWS::ApiGateway::RestApi")
    assert apigw.get_rest_api(restApiId=api_id)["name"] == "primary-relay"
    paths = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert set(paths) == {"/", "/health", "/{proxy+}"}
    method = apigw.get_method(restApiId=api_id, resourceId=paths["/{proxy+}"], httpMethod="ANY")
    assert method["apiKeyRequired"] is True
    assert method["authorizationType"] == "CUSTOM"
    assert method["methodIntegration"]["type"] == "AWS_PROXY"
    endpoint = run.created[RELAY_PRIMARY].outputs["EndpointUrl"]
    assert endpoint.startswith(f"https://{api_id}.execute-api.{REGION}.amazonaws.com/")


def test_tables_read_back_on_demand(run: Run) -> None:
    dynamodb = run.rehearsal.client("dynamodb")
    tables = _physical(run, RELAY_PRIMARY, "AWS::DynamoDB::Table")
    declared = [
        r
        for r in _template(run, RELAY_PRIMARY)["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    ]
    assert len(tables) == len(declared) >= 1
    for table in tables:
        described = dynamodb.describe_table(TableName=table)["Table"]
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {k["AttributeName"] for k in described["KeySchema"]} == {"pk", "sk"}
    assert run.created[RELAY_PRIMARY].outputs["KeysTableName"] in tables


def test_outputs_of_types_moto_does_not_create_say_so(run: Run) -> None:
    outputs = run.created[RELAY_PRIMARY].outputs
    assert outputs["UsagePlanId"] == PLACEHOLDER.format(
        logical_id=next(
            k
            for k, r in _template(run, RELAY_PRIMARY)["Resources"].items()
            if r["Type"] == "AWS::ApiGateway::UsagePlan"
        )
    )
    assert outputs["BedrockRegion"] == REGION
    assert outputs["Routing"] == "global"


def test_update_changes_only_the_relay_stack(run: Run, updated: dict[str, DeployedStack]) -> None:
    assert updated[RELAY_PRIMARY].status == "UPDATE_COMPLETE"
    # The CLI skips stacks whose template did not change.
    assert {updated[ACCESS].status, updated[OBSERVABILITY].status} == {"CREATE_COMPLETE"}
    assert _relay_function(run)["MemorySize"] == UPDATED_MEMORY_MB


def test_destroy_deletes_every_stack_and_keeps_the_retained_tables_and_queues(
    run: Run, destroyed: dict[str, DeployedStack]
) -> None:
    assert destroyed == {}
    cfn = run.rehearsal.client("cloudformation")
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert {s["StackName"] for s in summaries} >= STACKS
    # The tables are RETAINed (the deploy guide says so); moto honours DeletionPolicy.
    tables = run.rehearsal.client("dynamodb").list_tables()["TableNames"]
    assert any(t.startswith(f"{RELAY_PRIMARY}-") for t in tables)
    # So are the usage spool and its dead letters: records there are not in the table yet.
    queues = run.rehearsal.client("sqs").list_queues().get("QueueUrls", [])
    assert len([q for q in queues if f"/{RELAY_PRIMARY}-" in q]) == 2, queues


def test_cli_refuses_context_that_is_not_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    from relaykit.cli import main

    assert main(["deploy-rehearsal", "-c", "relaykit.models"]) == 1
    assert capsys.readouterr().err == (
        "relaykit: error: context 'relaykit.models' is not key=value\n"
    )


def test_rehearsal_outside_a_checkout_says_where_cdk_json_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RehearsalError, match=f"no cdk.json in {tmp_path}"):
        DeployRehearsal(app_dir=tmp_path).start()
