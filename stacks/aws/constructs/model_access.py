"""Model access for the configured Claude models in one Bedrock region.

There is no CloudFormation resource for it: a small Python Lambda (lambdas/model_access) is the
custom resource. It files Anthropic's use-case form if none is on file, accepts each model's
public Marketplace offer and waits, bounded by `wait_seconds`, until Bedrock reports AUTHORIZED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from relay.catalog import Model
from stacks.aws.bundling import REPO_ROOT, RUNTIME
from stacks.aws.constructs.function import FunctionProps, LoggedFunction
from stacks.aws.nag import acknowledge

MODEL_ACCESS_CODE = REPO_ROOT / "lambdas" / "model_access"
MODEL_ACCESS_ACTIONS = (
    "bedrock:GetFoundationModelAvailability",
    "bedrock:ListFoundationModelAgreementOffers",
    "bedrock:CreateFoundationModelAgreement",
    "bedrock:GetUseCaseForModelAccess",
    "bedrock:PutUseCaseForModelAccess",
)
# CreateFoundationModelAgreement subscribes to the model's Marketplace product with the caller's
# permissions. AWS Marketplace is a global service (its requests do not carry the Bedrock
# region, so aws:RequestedRegion would deny them outside us-east-1), and the product ids behind
# Bedrock's Anthropic offers are not published per model and region, so the statement cannot
# name them with aws-marketplace:ProductId: it allows subscribing, never unsubscribing.
MARKETPLACE_ACTIONS = ("aws-marketplace:Subscribe", "aws-marketplace:ViewSubscriptions")


def control_function(
    scope: Construct, construct_id: str, description: str, timeout: Duration
) -> LoggedFunction:
    return LoggedFunction(
        scope,
        construct_id,
        FunctionProps(
            code=lambda_.Code.from_asset(str(MODEL_ACCESS_CODE), exclude=["__pycache__", "*.pyc"]),
            handler="handler.handler",
            runtime=RUNTIME,
            description=description,
            timeout=timeout,
        ),
    )


@dataclass(frozen=True)
class ModelAccessProps:
    models: tuple[Model, ...]
    wait_seconds: int = 600
    # Anthropic's use-case form fields (camelCase keys as the API takes them); empty: on file.
    use_case: tuple[tuple[str, str], ...] = field(default=())


class BedrockModelAccess(Construct):
    """Provisions the model-access function, its role and the `Custom::BedrockModelAccess`."""

    def __init__(self, scope: Construct, construct_id: str, props: ModelAccessProps) -> None:
        super().__init__(scope, construct_id)
        if not props.models:
            raise ValueError("ModelAccessProps.models: at least one model")
        region = Stack.of(self).region
        self.handler = control_function(
            self,
            "Handler",
            "Confirms Bedrock model access (use-case form, Marketplace agreements)",
            Duration.seconds(props.wait_seconds + 60),
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageModelAccess",
                actions=list(MODEL_ACCESS_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {"aws:RequestedRegion": region}},
            )
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="SubscribeToModelOffers",
                actions=list(MARKETPLACE_ACTIONS),
                resources=["*"],
            )
        )
        acknowledge(
            self.handler.role,
            "The model-access and Marketplace subscription actions support no resource-level "
            "permissions; the Bedrock statement is limited to this region with "
            "aws:RequestedRegion, the Marketplace one to Subscribe and ViewSubscriptions.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::BedrockModelAccess",
            properties={
                "Region": region,
                "ModelIds": [m.bedrock_id for m in props.models],
                "UseCase": dict(props.use_case),
                "WaitSeconds": props.wait_seconds,
            },
        )
