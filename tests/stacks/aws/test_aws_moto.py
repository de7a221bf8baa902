"""Every synthesised template created as a CloudFormation stack in moto, then read back with boto3.

moto's CloudFormation creates IAM roles and inline policies, Lambda functions and permissions,
DynamoDB tables, REST API resources and methods, deployments, log groups, KMS keys, SNS topics
and dashboards. It does not create these types, which the tests say by name and check in the
template instead (test_aws_stacks.py): API Gateway Stage, Account, ApiKey, UsagePlan(Key),
Authorizer, RequestValidator and GatewayResponse; CloudWatch alarms; SNS subscriptions and topic
policies; WAFv2; Budgets; Cost Anomaly Detection; Bedrock guardrails
and application inference profiles.

Lambda-backed custom resources cannot run without Docker, so the test answers them the way the
function would (model access, invocation logging, CDK's cross-region export reader and writer).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match
from aws_stack_helpers import ACCOUNT, OBSERVABILITY, PREFIX, RELAY_HONG_KONG, RELAY_PRIMARY
from moto import mock_aws

# moto warns once per skipped type; NOT_CREATED_BY_MOTO below is the list, asserted.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

NOT_CREATED_BY_MOTO = frozenset(
    {
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::ApiGateway::Authorizer",
        "AWS::ApiGateway::RequestValidator",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::IPSet",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::WAFv2::LoggingConfiguration",
        "AWS::Budgets::Budget",
        "AWS::CE::AnomalyMonitor",
        "AWS::CE::AnomalySubscription",
        "AWS::Bedrock::Guardrail",
        "AWS::Bedrock::GuardrailVersion",
        "AWS::Bedrock::ApplicationInferenceProfile",
        # The spool queues' TLS-only policies and the replay's no-retry invoke config
        # (test_aws_usage_spool.py checks both).
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::EventInvokeConfig",
        # The batches bucket's TLS-only policy (test_aws_batches.py checks it).
        "AWS::S3::BucketPolicy",
    }
)


def _for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """moto rejects templates that read an attribute of a type it skips: those reads (e.g. the
    guardrail id export, the profile ARNs in the policy) get a placeholder; the template tests
    check the real ones."""
    skipped = {k for k, r in template["Resources"].items() if r["Type"] in NOT_CREATED_BY_MOTO}
    # moto creates a stack's resources in one pass, before any custom resource can answer, so
    # reads of custom-resource data (CDK's cross-region export reader) get the placeholder too.
    answered_later = {
        k for k, r in template["Resources"].items() if r["Type"].startswith("Custom::")
    }

    def replace(value: Any) -> Any:
        if isinstance(value, dict):
            get_att = value.get("Fn::GetAtt")
            if get_att and get_att[0] in skipped | answered_later:
                return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:moto-skipped/{get_att[0]}-{get_att[1]}"
            return {k: replace(v) for k, v in value.items()}
        if isinstance(value, list):
            return [replace(v) for v in value]
        return value

    resources = {k: r if k in skipped else replace(r) for k, r in template["Resources"].items()}
    for resource in resources.values():
        # moto 5.2's KMS reads CloudFormation tags as the KMS API's TagKey/TagValue.
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in resource["Properties"]:
            resource["Properties"]["Tags"] = [
                {"TagKey": t["Key"], "TagValue": t["Value"]} for t in resource["Properties"]["Tags"]
            ]
    return {**template, "Resources": resources, "Outputs": replace(template.get("Outputs", {}))}


def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _upload_assets(outdir: Path, stack_name: str, region: str) -> None:
    manifest = json.loads((outdir / f"{stack_name}.assets.json").read_text())
    s3 = boto3.client("s3", region_name=region)
    for asset in manifest.get("files", {}).values():
        source = outdir / asset["source"]["path"]
        body = _zip(source) if source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = (
                destination["bucketName"]
                .replace("${AWS::AccountId}", ACCOUNT)
                .replace("${AWS::Region}", region)
            )
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _seed_bootstrap(region: str) -> None:
    boto3.client("ssm", region_name=region).put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String", Overwrite=True
    )
    s3 = boto3.client("s3", region_name=region)
    bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{region}"
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def _answer_custom_resources(stack_id: str, region: str, data: dict[str, dict[str, str]]) -> None:
    """Play the custom resources' functions: report SUCCESS with their data, as they would."""
    from moto.cloudformation.models import cloudformation_backends

    stack = cloudformation_backends[ACCOUNT][region].get_stack(stack_id)
    for logical_id, resource in stack.custom_resources.items():
        resource.set_data(data.get(resource.logical_id, {"Answered": logical_id}))
    stack.verify_readiness()


@pytest.fixture(scope="module")
def moto_stacks(synthesis: Any) -> Iterator[dict[str, Any]]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing"
    )
    deployment = synthesis.deployment
    order = [
        *deployment.bedrock_access.values(),
        *deployment.relays.values(),
        deployment.observability,
    ]
    with mock_aws(config={"lambda": {"use_docker": False}}):
        for region in {s.region for s in order}:
            _seed_bootstrap(region)
        created: dict[str, Any] = {}
        for stack in order:
            name = stack.stack_name
            _upload_assets(synthesis.outdir, name, stack.region)
            cfn = boto3.client("cloudformation", region_name=stack.region)
            stack_id = cfn.create_stack(
                StackName=name,
                TemplateBody=json.dumps(_for_moto(synthesis.templates[name])),
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            )["StackId"]
            _answer_custom_resources(stack_id, stack.region, {})
            created[name] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        yield created


def _physical(stack_name: str, region: str, resource_type: str) -> list[str]:
    cfn = boto3.client("cloudformation", region_name=region)
    found = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return [r["PhysicalResourceId"] for r in found if r.get("ResourceType") == resource_type]


def test_every_stack_is_created(moto_stacks: dict[str, Any], synthesis: Any) -> None:
    assert set(moto_stacks) == set(synthesis.templates)
    assert {s["StackStatus"] for s in moto_stacks.values()} == {"CREATE_COMPLETE"}


def test_types_moto_skips_are_the_listed_ones(synthesis: Any) -> None:
    """moto creates everything else; this list is what test_aws_stacks.py checks instead."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    used = {r["Type"] for t in synthesis.templates.values() for r in t["Resources"].values()}
    skipped = {
        t
        for t in used
        if (t in NULL_MODELS or t not in get_model_map()) and not t.startswith("Custom::")
    }
    assert skipped <= NOT_CREATED_BY_MOTO, skipped - NOT_CREATED_BY_MOTO


def test_relay_role_policy_reads_back_with_the_bedrock_statements(
    moto_stacks: dict[str, Any], synthesis: Any
) -> None:
    region = synthesis.deployment.relays["primary"].region
    iam = boto3.client("iam", region_name=region)
    roles = _physical(RELAY_PRIMARY, region, "AWS::IAM::Role")
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for role in roles
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    statements = [s for d in documents for s in d["Statement"]]
    sids = {s.get("Sid") for s in statements}
    for target in synthesis.deployment.config.primary.targets:
        model_prefix = "".join(w.title() for w in target.model.alias.split("-"))
        assert any(sid and sid.startswith(model_prefix) for sid in sids), model_prefix
    invoked = {
        r
        for s in statements
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        if "inference-profile" in str(r)
    }
    assert {t.model_id for t in synthesis.deployment.config.primary.targets} <= {
        str(r).rsplit("/", 1)[-1] for r in invoked
    }


@pytest.mark.parametrize("site_name", ["primary", "hongkong"])
def test_relay_lambda_reads_back_streaming_through_the_web_adapter(
    moto_stacks: dict[str, Any], synthesis: Any, site_name: str
) -> None:
    stack = synthesis.deployment.relays[site_name]
    site = next(r for r in synthesis.deployment.config.relays if r.name == site_name)
    lam = boto3.client("lambda", region_name=stack.region)
    configs = [
        lam.get_function_configuration(FunctionName=f)
        for f in _physical(stack.stack_name, stack.region, "AWS::Lambda::Function")
    ]
    relay = next(c for c in configs if c["Handler"] == "run.sh")
    env = relay["Environment"]["Variables"]
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["RELAY_BEDROCK_REGION"] == site.bedrock_region
    assert relay["Timeout"] == 900
    # moto's CloudFormation drops Architectures (it reads back x86_64); the template has arm64.
    assert synthesis.template(stack.stack_name).find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "run.sh", "Architectures": ["arm64"]}}
    )
    # moto reads back no layer it did not publish itself (the adapter's is in another account).
    assert synthesis.template(stack.stack_name).find_resources(
        "AWS::Lambda::Function",
        {
            "Properties": {
                "Handler": "run.sh",
                "Layers": [Match.string_like_regexp("LambdaAdapterLayer")],
            }
        },
    )


def test_rest_api_resources_and_methods_read_back(
    moto_stacks: dict[str, Any], synthesis: Any
) -> None:
    stack = synthesis.deployment.relays["primary"]
    apigw = boto3.client("apigateway", region_name=stack.region)
    api_id = _physical(RELAY_PRIMARY, stack.region, "AWS::ApiGateway::RestApi")[0]
    api = apigw.get_rest_api(restApiId=api_id)
    assert api["name"] == synthesis.deployment.config.primary.api_name
    paths = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert set(paths) == {"/", "/health", "/{proxy+}"}
    method = apigw.get_method(
        restApiId=api_id, resourceId=paths["/{proxy+}"]["id"], httpMethod="ANY"
    )
    assert method["apiKeyRequired"] is True
    assert method["authorizationType"] == "CUSTOM"
    assert method["methodIntegration"]["type"] == "AWS_PROXY"
    health = apigw.get_method(restApiId=api_id, resourceId=paths["/health"]["id"], httpMethod="GET")
    assert health["authorizationType"] == "NONE"
    assert apigw.get_deployments(restApiId=api_id)["items"]


def test_tables_read_back_on_demand(moto_stacks: dict[str, Any], synthesis: Any) -> None:
    region = synthesis.deployment.relays["primary"].region
    dynamodb = boto3.client("dynamodb", region_name=region)
    tables = _physical(RELAY_PRIMARY, region, "AWS::DynamoDB::Table")
    assert len(tables) == 2
    for table in tables:
        described = dynamodb.describe_table(TableName=table)["Table"]
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {k["AttributeName"] for k in described["KeySchema"]} == {"pk", "sk"}


def test_dashboard_body_reads_back(moto_stacks: dict[str, Any], synthesis: Any) -> None:
    region = synthesis.deployment.observability.region
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    name = f"{PREFIX}-relay"
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    metrics = json.dumps([w.get("properties", {}).get("metrics") for w in body["widgets"]])
    assert "TimeToFirstToken" in metrics
    assert "InvocationThrottles" in metrics
    assert OBSERVABILITY in moto_stacks


def test_alarms_are_not_created_by_moto_and_are_checked_in_the_template(
    moto_stacks: dict[str, Any], synthesis: Any
) -> None:
    region = synthesis.deployment.relays["primary"].region
    assert "AWS::CloudWatch::Alarm" in NOT_CREATED_BY_MOTO
    assert boto3.client("cloudwatch", region_name=region).describe_alarms()["MetricAlarms"] == []
    alarms = [
        r
        for r in synthesis.templates[RELAY_PRIMARY]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert len(alarms) >= 4


def test_hong_kong_stack_is_created_in_ap_east_1(moto_stacks: dict[str, Any]) -> None:
    assert moto_stacks[RELAY_HONG_KONG]["StackId"].split(":")[3] == "ap-east-1"
