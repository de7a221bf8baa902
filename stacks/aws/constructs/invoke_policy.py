"""A managed policy that lets an application invoke exactly the configured models.

Attach it to an application's role to call Bedrock directly (not through the relay): the same
statements as the relay's role, plus the deployment's application inference profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from constructs import Construct

from relay.targets import BedrockTarget
from stacks.aws.bedrock_grants import INVOKE_ACTIONS, invoke_statements


@dataclass(frozen=True)
class InvokeModelsPolicyProps:
    targets: tuple[BedrockTarget, ...]
    account: str
    # Model alias -> application inference profile ARN.
    application_profiles: tuple[tuple[str, str], ...] = ()


class InvokeModelsPolicy(Construct):
    """Provisions `policy`, an `AWS::IAM::ManagedPolicy` with no wildcard action or resource."""

    def __init__(self, scope: Construct, construct_id: str, props: InvokeModelsPolicyProps) -> None:
        super().__init__(scope, construct_id)
        profiles = dict(props.application_profiles)
        statements = [
            s.to_iam()
            for s in invoke_statements(props.targets, props.account, application_profiles=profiles)
        ]
        if profiles:
            statements.append(
                iam.PolicyStatement(
                    sid="ApplicationProfiles",
                    actions=list(INVOKE_ACTIONS),
                    resources=list(profiles.values()),
                )
            )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Invoke exactly the Claude models this deployment enables",
            statements=statements,
        )
