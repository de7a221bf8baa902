"""The Fargate relay's stack created in moto's CloudFormation, then read back with boto3.

moto creates the VPC, subnets, routes, security groups, the ECS cluster, task definition and
service, the load balancer, its listener and target group, the IAM roles and policies, the log
group, the access-log bucket, the tables and queues. What it does not create is listed in
NOT_CREATED_BY_MOTO (asserted) and checked in the template instead (test_aws_fargate.py). What
moto cannot rehearse at all: a service's launch type, network and load balancers and the task's
platform (its CloudFormation keeps the count and the containers), building and pushing the
image (`cdk deploy` needs the operator's Docker), running the tasks, and the load balancer's
health checks and draining.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_stack_helpers import CERTIFICATE_ARN, FARGATE_HOSTNAME, FARGATE_ZONE, RELAY_PRIMARY
from moto import mock_aws
from test_aws_moto import (
    NOT_CREATED_BY_MOTO,
    _answer_custom_resources,
    _for_moto,
    _seed_bootstrap,
    _upload_assets,
)

from stacks.aws.compute_limits import FARGATE_MAX_BODY_BYTES

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
REGION = "us-east-1"
FARGATE_NOT_CREATED_BY_MOTO = frozenset(
    {
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        # The load balancer's rule to the tasks (its ingress twin is created).
        "AWS::EC2::SecurityGroupEgress",
        # The access-log bucket's policy for the ELB log delivery.
        "AWS::S3::BucketPolicy",
        # The hostname's certificate (DNS-validated) and its place on the HTTPS listener.
        "AWS::CertificateManager::Certificate",
        "AWS::ElasticLoadBalancingV2::ListenerCertificate",
    }
)


@pytest.fixture(scope="module")
def moto_fargate(fargate_synthesis: Any) -> Iterator[dict[str, Any]]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing"
    )
    with mock_aws(config={"lambda": {"use_docker": False}}):
        _seed_bootstrap(REGION)
        _upload_assets(fargate_synthesis.outdir, RELAY_PRIMARY, REGION)
        # The certificate the operator names must exist in the account (moto checks it too):
        # one requested in moto's ACM stands in for it.
        certificate = boto3.client("acm", region_name=REGION).request_certificate(
            DomainName=FARGATE_HOSTNAME
        )["CertificateArn"]
        # And so must the domain's hosted zone.
        zone = (
            boto3.client("route53", region_name=REGION)
            .create_hosted_zone(
                Name=FARGATE_ZONE["hostedZoneName"], CallerReference="fargate-rehearsal"
            )["HostedZone"]["Id"]
            .split("/")[-1]
        )
        body = json.dumps(_for_moto(fargate_synthesis.templates[RELAY_PRIMARY]))
        body = body.replace(FARGATE_ZONE["hostedZoneId"], zone)
        cfn = boto3.client("cloudformation", region_name=REGION)
        stack_id = cfn.create_stack(
            StackName=RELAY_PRIMARY,
            TemplateBody=body.replace(CERTIFICATE_ARN, certificate),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )["StackId"]
        _answer_custom_resources(stack_id, REGION, {})
        resources = cfn.list_stack_resources(StackName=RELAY_PRIMARY)["StackResourceSummaries"]
        yield {
            "stack": cfn.describe_stacks(StackName=RELAY_PRIMARY)["Stacks"][0],
            "resources": resources,
        }


def _physical(moto_fargate: dict[str, Any], resource_type: str) -> list[str]:
    return [
        r["PhysicalResourceId"]
        for r in moto_fargate["resources"]
        if r.get("ResourceType") == resource_type
    ]


def test_the_stack_is_created(moto_fargate: dict[str, Any]) -> None:
    assert moto_fargate["stack"]["StackStatus"] == "CREATE_COMPLETE"


def test_types_moto_skips_are_the_listed_ones(fargate_synthesis: Any) -> None:
    """moto creates everything else; test_aws_fargate.py checks these in the template."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    template = fargate_synthesis.templates[RELAY_PRIMARY]
    used = {r["Type"] for r in template["Resources"].values()}
    skipped = {t for t in used if t in NULL_MODELS or t not in get_model_map()}
    assert skipped == FARGATE_NOT_CREATED_BY_MOTO | (used & NOT_CREATED_BY_MOTO), skipped


def test_the_service_reads_back_with_its_task_definition(
    moto_fargate: dict[str, Any],
) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    (cluster,) = _physical(moto_fargate, "AWS::ECS::Cluster")
    (service_arn,) = _physical(moto_fargate, "AWS::ECS::Service")
    (service,) = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    # moto's CloudFormation keeps the count and the task definition of a service, not its
    # launch type, network or load balancers, nor the task's platform (test_aws_fargate.py
    # asserts those).
    assert service["desiredCount"] == 2
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["RELAY_MAX_BODY_BYTES"] == str(FARGATE_MAX_BODY_BYTES)


def test_no_nat_gateway_and_the_load_balancer_reads_back(moto_fargate: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    assert ec2.describe_nat_gateways()["NatGateways"] == []
    elb = boto3.client("elbv2", region_name=REGION)
    (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
    assert balancer["Scheme"] == "internet-facing"
    (group,) = elb.describe_target_groups()["TargetGroups"]
    assert group["HealthCheckPath"] == "/health"
    (listener,) = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
