"""A Lambda function with its own role, log group and retention, and no AWS managed policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.aws.config import Architecture

_RETENTIONS = (
    (1, logs.RetentionDays.ONE_DAY),
    (3, logs.RetentionDays.THREE_DAYS),
    (5, logs.RetentionDays.FIVE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK),
    (14, logs.RetentionDays.TWO_WEEKS),
    (30, logs.RetentionDays.ONE_MONTH),
    (60, logs.RetentionDays.TWO_MONTHS),
    (90, logs.RetentionDays.THREE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS),
    (365, logs.RetentionDays.ONE_YEAR),
    (731, logs.RetentionDays.TWO_YEARS),
    (1827, logs.RetentionDays.FIVE_YEARS),
)


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least `days` days."""
    for value, member in _RETENTIONS:
        if value >= days:
            return member
    return logs.RetentionDays.TEN_YEARS


@dataclass(frozen=True)
class FunctionProps:
    code: lambda_.Code
    handler: str
    runtime: lambda_.Runtime
    description: str
    architecture: Architecture = Architecture.ARM_64
    timeout: Duration = field(default_factory=lambda: Duration.seconds(30))
    memory_mb: int = 256
    log_retention_days: int = 30
    environment: tuple[tuple[str, str], ...] = ()
    layers: tuple[lambda_.ILayerVersion, ...] = ()
    tracing: bool = False
    # None: unreserved (a custom-resource or authorizer function that runs briefly).
    reserved_concurrency: int | None = None
    # None: a name CloudFormation generates; set where another system names the role (GCP).
    role_name: str | None = None


class LoggedFunction(Construct):
    """A function whose role may only write to its own log group (granted, not managed policy).

    Provisions: an IAM role (lambda.amazonaws.com), a log group with the given retention that is
    deleted with the stack, and the function. Callers add permissions to `role`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: FunctionProps) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=props.description,
            role_name=props.role_name,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(props.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            code=props.code,
            handler=props.handler,
            runtime=props.runtime,
            description=props.description,
            architecture=(
                lambda_.Architecture.ARM_64
                if props.architecture is Architecture.ARM_64
                else lambda_.Architecture.X86_64
            ),
            timeout=props.timeout,
            memory_size=props.memory_mb,
            environment=dict(props.environment),
            layers=list(props.layers),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if props.tracing else lambda_.Tracing.DISABLED,
            reserved_concurrent_executions=props.reserved_concurrency,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
