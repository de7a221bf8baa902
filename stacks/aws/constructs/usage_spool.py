"""Where usage records go while the relay's table is down, and the schedule that replays them.

The relay retries a settlement briefly, then sends the record to `queue` (RELAY_USAGE_SPOOL,
lambdas/relay/spool.py) so every request that reached a provider keeps its one usage record.
`replay` (relay.spool.replay_handler, the relay's own bundle) runs every five minutes and settles
what the queue holds; settlement is idempotent, so a record replayed twice counts once. A record
that fails to replay REPLAY_ATTEMPTS times moves to `dead_letters`, where it waits for the
operator (alarmed in alarms.py; `aws sqs start-message-move-task` puts it back).

A schedule rather than an SQS event source: the handler polls the queue itself and stops at the
first batch the table refuses, so a table that is down sees one failed batch per five minutes,
not Lambda's pollers retrying every message as fast as they can.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.aws.bundling import RUNTIME
from stacks.aws.config import Architecture
from stacks.aws.constructs.function import FunctionProps, LoggedFunction

# SQS's longest retention: a record outlives a table outage, and a holiday, by far.
RETENTION = Duration.days(14)
# 8,640 runs a month; an idle run is one empty ReceiveMessage (docs/aws.md's cost table).
REPLAY_RATE = Duration.minutes(5)
# Below the rate, so runs never overlap.
REPLAY_TIMEOUT = Duration.minutes(4)
# A record received in a run and not settled stays hidden this long: more than a batch of ten
# settlements takes, far less than the rate, so the next run sees it again.
VISIBILITY_TIMEOUT = Duration.seconds(30)
SSE_NOTE = (
    "Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled): no KMS key to pay for or "
    "call; CKV_AWS_27 recognises only KmsMasterKeyId."
)
# Failed replays before a record is set aside: 24 runs, two hours of a table that refuses it.
# An unreadable record must leave soon (each run stops at the batch it fails in, slowing the
# rest); one that outlasts a longer outage is not lost but kept 14 days in the dead-letter queue.
REPLAY_ATTEMPTS = 24
# What settling does to the table (relay/dynamo.py's settle: one transaction of a conditional put
# of the usage record and updates of the limit and budget counters); it reads nothing.
SETTLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True)
class UsageSpoolProps:
    table: dynamodb.ITable
    code: lambda_.Code
    architecture: Architecture
    log_retention_days: int
    service_name: str


class UsageSpool(Construct):
    """Provisions `queue` and `dead_letters` (SQS-managed encryption, TLS only, 14 days), the
    `replay` function and its five-minute EventBridge rule. Callers grant senders with
    `queue.grant_send_messages`."""

    def __init__(self, scope: Construct, construct_id: str, props: UsageSpoolProps) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            # Kept like the table: records not yet in it are usage history it lacks.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            # Kept like the table: records not yet in it are usage history it lacks.
            removal_policy=RemovalPolicy.RETAIN,
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=REPLAY_ATTEMPTS
            ),
        )
        for queue in (self.queue, self.dead_letters):
            cfn_queue = queue.node.default_child
            assert isinstance(cfn_queue, sqs.CfnQueue)
            cfn_queue.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_27", "comment": SSE_NOTE}]})
        self.replay = LoggedFunction(
            self,
            "Replay",
            FunctionProps(
                code=props.code,
                handler="relay.spool.replay_handler",
                runtime=RUNTIME,
                description="Settles usage records the relay spooled while its table was down",
                architecture=props.architecture,
                timeout=REPLAY_TIMEOUT,
                memory_mb=256,
                log_retention_days=props.log_retention_days,
                environment=(
                    ("POWERTOOLS_SERVICE_NAME", props.service_name),
                    ("RELAY_TABLE_NAME", props.table.table_name),
                    ("RELAY_USAGE_SPOOL", self.queue.queue_url),
                ),
            ),
        )
        self.queue.grant_consume_messages(self.replay.role)
        props.table.grant(self.replay.role, *SETTLE_ACTIONS)
        # A failed run is not retried: the records stay on the queue for the next one.
        self.replay.function.configure_async_invoke(retry_attempts=0)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Replays spooled usage records into the relay's table",
            schedule=events.Schedule.rate(REPLAY_RATE),
            targets=[targets.LambdaFunction(self.replay.function, retry_attempts=0)],
        )
