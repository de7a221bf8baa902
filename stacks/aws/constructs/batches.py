"""Message Batches on Bedrock batch inference: the bucket of the batches, the service role
Bedrock assumes to run their jobs, and what the relay may do with both.

The bucket (SSE-S3, TLS only, no public access) holds each batch's state, Bedrock's input and
output and the results; its lifecycle rule deletes everything `RETENTION_DAYS` after it was
written: Anthropic keeps a batch's results 29 days after its creation, results are written up to
24 hours after it, and a day more spares a batch read at the very end. Empty, it costs nothing;
S3 Standard storage is about $0.023 per GB-month.

Bedrock's service role trusts bedrock.amazonaws.com only for this account's batch jobs in the
Bedrock region (`aws:SourceAccount`, `aws:SourceArn`), reads and writes `batches/` of this
bucket only, and invokes the relay's models only (the relay's own invoke statements).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.aws.bedrock_grants import invoke_statements, partition_of
from stacks.aws.config import RelaySite
from stacks.aws.nag import acknowledge

RETENTION_DAYS = 31
PREFIX = "batches/"
# What the relay calls (relay/batches/jobs.py); it lists no jobs, so ListModelInvocationJobs is
# not granted.
JOB_ACTIONS = (
    "bedrock:CreateModelInvocationJob",
    "bedrock:GetModelInvocationJob",
    "bedrock:StopModelInvocationJob",
)
BEDROCK = "bedrock.amazonaws.com"


@dataclass(frozen=True)
class RelayBatchesProps:
    site: RelaySite
    account: str
    # The role the relay runs as, and how to set its environment (a Lambda function's or a
    # container's `add_environment`).
    role: iam.IRole
    add_environment: Callable[[str, str], object]


class RelayBatches(Construct):
    """Provisions `bucket` and `service_role`, grants the relay's role the jobs, the bucket and
    passing the role to Bedrock, and tells the relay both (RELAY_BATCH_BUCKET,
    RELAY_BATCH_ROLE_ARN)."""

    def __init__(self, scope: Construct, construct_id: str, props: RelayBatchesProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        site = props.site
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireBatches",
                    expiration=Duration.days(RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Batch results a client may still fetch; `cdk destroy` leaves them to expire.
            removal_policy=RemovalPolicy.RETAIN,
        )
        no_access_logs = (
            "The bucket holds batch inputs and results the relay reads and writes itself, each "
            "expiring after 31 days; CloudTrail data events log object access where wanted, "
            "without a second bucket of access logs."
        )
        acknowledge(self.bucket, no_access_logs, "AwsSolutions-S1")
        # checkov reads skips from the resource's metadata.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_metadata(
            "checkov",
            {
                "skip": [
                    {"id": "CKV_AWS_18", "comment": no_access_logs},
                    {
                        "id": "CKV_AWS_21",
                        "comment": "No versioning: a deleted batch must be gone, not kept as "
                        "a noncurrent version",
                    },
                ]
            },
        )
        partition = partition_of(site.bedrock_region)
        jobs = f"arn:{partition}:bedrock:{site.bedrock_region}:{props.account}"
        jobs += ":model-invocation-job/*"
        objects = self.bucket.arn_for_objects(f"{PREFIX}*")
        self.service_role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal(
                BEDROCK,
                conditions={
                    "StringEquals": {"aws:SourceAccount": props.account},
                    "ArnEquals": {"aws:SourceArn": jobs},
                },
            ),
            description="Lets Bedrock batch inference read and write the relay's batches",
        )
        self.service_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteBatches",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[objects],
            )
        )
        self.service_role.add_to_policy(
            iam.PolicyStatement(
                sid="ListBatches", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]
            )
        )
        statements = invoke_statements(site.targets, props.account, count_tokens=False)
        model_arns: list[str] = []
        for statement in statements:
            self.service_role.add_to_policy(statement.to_iam())
            model_arns.extend(statement.resources)

        role = props.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchJobs",
                actions=list(JOB_ACTIONS),
                resources=[jobs, *sorted(set(model_arns))],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassBatchRole",
                actions=["iam:PassRole"],
                resources=[self.service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": BEDROCK}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[objects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListBatchObjects",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
            )
        )
        bucket_id = stack.resolve(stack.get_logical_id(cfn_bucket))
        account = "<AWS::AccountId>" if Token.is_unresolved(props.account) else props.account
        shown_jobs = f"arn:{partition}:bedrock:{site.bedrock_region}:{account}"
        findings = (
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{PREFIX}*]",
            f"AwsSolutions-IAM5[Resource::{shown_jobs}:model-invocation-job/*]",
        )
        for grantee in (self.service_role, role):
            acknowledge(
                grantee,
                "Batch objects are named by key and batch at run time, and job ids by Bedrock: "
                "the statements cover the bucket's batches/ prefix only, and batch jobs of this "
                "account and Bedrock region only.",
                *findings,
            )
        props.add_environment("RELAY_BATCH_BUCKET", self.bucket.bucket_name)
        props.add_environment("RELAY_BATCH_ROLE_ARN", self.service_role.role_arn)
