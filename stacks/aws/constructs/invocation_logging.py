"""Bedrock model invocation logging for one region, to a KMS-encrypted CloudWatch log group.

Bedrock has no CloudFormation resource for the logging configuration, so a custom resource sets
it. The configuration is one per account and region: the function reads it first and refuses to
replace a different one unless `take_over`, and restores the prior one on delete
(lambdas/model_access/handler.py). Bedrock writes with a role it assumes, limited to this
account and region's Bedrock.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.aws.constructs.function import retention
from stacks.aws.constructs.model_access import control_function
from stacks.aws.nag import acknowledge


@dataclass(frozen=True)
class InvocationLoggingProps:
    retention_days: int = 30
    # A customer-managed key ($1 a month); without, CloudWatch Logs' own encryption at rest.
    customer_managed_key: bool = False
    # Replace a different configuration already in the region (restored on delete).
    take_over: bool = False


class BedrockInvocationLogging(Construct):
    """Provisions the log group (with a rotated KMS key if asked), Bedrock's delivery role and the
    config."""

    def __init__(self, scope: Construct, construct_id: str, props: InvocationLoggingProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key: kms.Key | None = None
        if props.customer_managed_key:
            self.key = kms.Key(
                self,
                "Key",
                description="Encrypts Bedrock model invocation logs (prompts and completions)",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.key.grant_encrypt_decrypt(
                iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")
            )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=self.key,
            retention=retention(props.retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.delivery_role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:*"
                        )
                    },
                },
            ),
            description="Lets Bedrock write model invocation logs to one log group",
        )
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteInvocationLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.handler = control_function(
            self, "Handler", "Sets Bedrock model invocation logging", Duration.seconds(60)
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="ConfigureInvocationLogging",
                actions=[
                    "bedrock:GetModelInvocationLoggingConfiguration",
                    "bedrock:PutModelInvocationLoggingConfiguration",
                    "bedrock:DeleteModelInvocationLoggingConfiguration",
                ],
                resources=["*"],
                conditions={"StringEquals": {"aws:RequestedRegion": stack.region}},
            )
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassDeliveryRole",
                actions=["iam:PassRole"],
                resources=[self.delivery_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        if props.take_over:
            # Restoring the configuration taken over passes that configuration's own role,
            # unknown at synthesis; only to Bedrock.
            self.handler.role.add_to_policy(
                iam.PolicyStatement(
                    sid="PassPriorDeliveryRole",
                    actions=["iam:PassRole"],
                    resources=[f"arn:{stack.partition}:iam::{stack.account}:role/*"],
                    conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
                )
            )
            acknowledge(
                self.handler.role,
                "Restoring the invocation-logging configuration taken over "
                "(relaykit.invocationLogging.takeOver) passes its role, unknown at synthesis; "
                "the statement is limited to this account's roles passed to Bedrock.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]",
            )
        acknowledge(
            self.handler.role,
            "The invocation-logging configuration is a per-region account setting with no "
            "resource ARN; the statement is limited to this region with aws:RequestedRegion.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::BedrockInvocationLogging",
            properties={
                "Region": stack.region,
                "LogGroupName": self.log_group.log_group_name,
                "RoleArn": self.delivery_role.role_arn,
                "TakeOver": "true" if props.take_over else "false",
            },
        )
        self.resource.node.add_dependency(self.delivery_role)
