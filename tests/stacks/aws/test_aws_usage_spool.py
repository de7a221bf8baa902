"""The usage spool in the relay stacks: the queue records wait in while the table is down, its
dead-letter queue, the scheduled replay function and their alarms.

The last test runs the replay handler end to end against moto's SQS and DynamoDB (the spool
itself is tested in tests/lambdas/relay/test_relay_spool.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_stack_helpers import RELAY_HONG_KONG, RELAY_PRIMARY, resources

from stacks.aws.constructs.usage_spool import REPLAY_ATTEMPTS

FOURTEEN_DAYS = 14 * 24 * 3600
STACKS = (RELAY_PRIMARY, RELAY_HONG_KONG)


def _one(template: dict[str, Any], resource_type: str, id_prefix: str) -> tuple[str, Any]:
    (found,) = [
        (k, v) for k, v in resources(template, resource_type).items() if k.startswith(id_prefix)
    ]
    return found


def _replay_function(template: dict[str, Any]) -> tuple[str, Any]:
    (found,) = [
        (k, v)
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == "relay.spool.replay_handler"
    ]
    return found


def _policy_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("stack", STACKS)
def test_spool_and_dead_letters_are_encrypted_tls_only_kept_14_days_and_retained(
    synthesis: Any, stack: str
) -> None:
    template = synthesis.templates[stack]
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
        assert queue["DeletionPolicy"] == "Retain"
    policies = resources(template, "AWS::SQS::QueuePolicy").values()
    denied = {
        json.dumps(p["Properties"]["Queues"])
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert denied == {json.dumps([{"Ref": k}]) for k in queues}


def test_spool_moves_a_record_to_dead_letters_after_24_failed_replays(synthesis: Any) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    _, queue = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolQueue")
    dead_id, dead = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolDeadLetters")
    assert "RedrivePolicy" not in dead["Properties"]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_id, "Arn"]},
        "maxReceiveCount": REPLAY_ATTEMPTS,
    }
    assert REPLAY_ATTEMPTS == 24
    # Hidden after a failed replay for less than the five minutes to the next one.
    assert queue["Properties"]["VisibilityTimeout"] < 300


@pytest.mark.parametrize("stack", STACKS)
def test_relay_spools_to_the_queue_and_may_only_send_to_it(synthesis: Any, stack: str) -> None:
    template = synthesis.templates[stack]
    queue_id, _ = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolQueue")
    (relay,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "run.sh"
    ]
    variables = relay["Properties"]["Environment"]["Variables"]
    assert variables["RELAY_USAGE_SPOOL"] == {"Ref": queue_id}
    role_id = relay["Properties"]["Role"]["Fn::GetAtt"][0]
    sqs = [s for s in _policy_of(template, role_id) if str(s["Action"]).startswith("['sqs:")]
    assert sqs == [
        {
            "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        }
    ]
    # Nothing else may send to or read the queues: no other role names them.
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"]["Roles"]
        if {"Ref": role_id} in roles:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "sqs:SendMessage" not in statement["Action"], roles


def test_replay_function_runs_the_relay_bundle_with_the_table_and_the_queue(
    synthesis: Any,
) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    _, replay = _replay_function(template)
    (relay,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "run.sh"
    ]
    props = replay["Properties"]
    assert props["Code"] == relay["Properties"]["Code"]
    assert props["Runtime"] == relay["Properties"]["Runtime"]
    assert props["Architectures"] == relay["Properties"]["Architectures"]
    queue_id, _ = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolQueue")
    table_ref = relay["Properties"]["Environment"]["Variables"]["RELAY_TABLE_NAME"]
    variables = props["Environment"]["Variables"]
    assert variables["RELAY_TABLE_NAME"] == table_ref
    assert variables["RELAY_USAGE_SPOOL"] == {"Ref": queue_id}
    # Below the five-minute schedule: two runs never overlap.
    assert props["Timeout"] < 300
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    retention = synthesis.deployment.config.settings.lambda_.log_retention_days
    assert template["Resources"][log_group]["Properties"]["RetentionInDays"] >= retention


def test_replay_runs_every_five_minutes_without_retries(synthesis: Any) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    function_id, _ = _replay_function(template)
    (rule,) = resources(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"].get("EventBusName") is None  # the default bus: free
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    (invoke_config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": function_id}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0
    (permission,) = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    ]
    assert permission["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_replay_role_may_consume_the_spool_and_settle_into_the_table_only(
    synthesis: Any,
) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    _, replay = _replay_function(template)
    role_id = replay["Properties"]["Role"]["Fn::GetAtt"][0]
    queue_id, _ = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolQueue")
    table_id, _ = _one(template, "AWS::DynamoDB::Table", "RelayUsageTable")
    log_group = replay["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    statements = [
        {"Action": s["Action"], "Resource": s["Resource"]}
        for s in _policy_of(template, role_id)
        if s["Effect"] == "Allow"
    ]
    assert statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
        {
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ],
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        },
        {
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        },
    ]


@pytest.mark.parametrize(
    ("alarm_prefix", "queue_prefix", "periods"),
    [
        ("AlarmsUsageSpooled", "RelayUsageSpoolQueue", 3),
        ("AlarmsUsageDeadLetters", "RelayUsageSpoolDeadLetters", 1),
    ],
)
def test_records_waiting_in_either_queue_alarm_on_the_relay_topic(
    synthesis: Any, alarm_prefix: str, queue_prefix: str, periods: int
) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    queue_id, _ = _one(template, "AWS::SQS::Queue", queue_prefix)
    _, alarm = _one(template, "AWS::CloudWatch::Alarm", alarm_prefix)
    topic_id, _ = _one(template, "AWS::SNS::Topic", "AlarmsTopic")
    props = alarm["Properties"]
    assert props["Namespace"] == "AWS/SQS"
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert props["Statistic"] == "Maximum"
    assert props["Period"] == 300
    assert props["Threshold"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == periods
    assert props["AlarmActions"] == [{"Ref": topic_id}]


def test_stack_outputs_the_spool_for_a_replay_by_hand(synthesis: Any) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    queue_id, _ = _one(template, "AWS::SQS::Queue", "RelayUsageSpoolQueue")
    assert template["Outputs"]["UsageSpoolUrl"]["Value"] == {"Ref": queue_id}
