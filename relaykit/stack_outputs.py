"""Deployed stacks as CloudFormation describes them: the one place commands read outputs from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from relaykit.failures import Failure

# The CDK app outputs the commands read (a test checks the synthesised stacks declare them).
RELAY_OUTPUTS = ("EndpointUrl", "KeysTableName", "BedrockRegion", "Routing", "ModelIds")
OBSERVABILITY_OUTPUTS = ("DashboardName",)


@dataclass(frozen=True)
class DeployedStack:
    name: str
    region: str
    status: str
    outputs: dict[str, str]

    @property
    def is_relay(self) -> bool:
        return "EndpointUrl" in self.outputs and "KeysTableName" in self.outputs


def _deployed(region: str, described: dict[str, Any]) -> DeployedStack:
    return DeployedStack(
        described["StackName"],
        region,
        described["StackStatus"],
        {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
    )


def describe_stack(session: boto3.session.Session, name: str) -> DeployedStack:
    """The stack `name` in the session's region; Failure naming --stack/--region if absent."""
    client = session.client("cloudformation")
    try:
        (described,) = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        raise Failure(
            f"--stack {name}: no such stack in {client.meta.region_name}; "
            "check --region (`relaykit status` lists the relay stacks)"
        ) from None
    return _deployed(client.meta.region_name, described)


def stack_output(session: boto3.session.Session, name: str, output: str) -> str:
    stack = describe_stack(session, name)
    if output not in stack.outputs:
        raise Failure(f"--stack {name} has no output {output}: is it a relay stack?")
    return stack.outputs[output]


def stacks_in(cloudformation: Any, prefix: str) -> list[DeployedStack]:
    """The live stacks of one deployment (names starting with `prefix-`) in the client's region."""
    region = cloudformation.meta.region_name
    found = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for described in page["Stacks"]:
            if described["StackName"].startswith(f"{prefix}-"):
                found.append(_deployed(region, described))
    return sorted(found, key=lambda s: s.name)
