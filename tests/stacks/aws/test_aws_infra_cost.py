"""The cost table in docs/aws.md is computed from the synthesised templates: regenerated here,
it must equal the docs, so a change of resources that changes the price changes the docs."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from aws_stack_helpers import OBSERVABILITY, REPO_ROOT

from stacks.aws.infra_cost import (
    ALARM_METRIC_MONTH,
    LAMBDA_GB_SECOND,
    LAMBDA_PER_MILLION_REQUESTS,
    LOGS_INGESTED_PER_GB,
    SCHEDULED_RUN_LOG_BYTES,
    SCHEDULED_RUN_SECONDS,
    SQS_PER_MILLION_REQUESTS,
    WAF_RULE_MONTH,
    WAF_WEB_ACL_MONTH,
    cost_table,
    estimate,
    typical_token_cost,
)

DOCS = REPO_ROOT / "docs" / "aws.md"
START, END = "<!-- cost-table:start -->", "<!-- cost-table:end -->"
REGENERATE = "python -m stacks.aws.infra_cost, or copy the table this test prints"


def _docs_table() -> str:
    text = DOCS.read_text()
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    assert match, f"docs/aws.md has no {START} ... {END} section"
    return match.group(1)


def test_docs_show_the_cost_table_of_the_default_hong_kong_and_fargate_variants(
    default_synthesis: Any, hong_kong_synthesis: Any, fargate_synthesis: Any
) -> None:
    table = cost_table(
        {
            "default": default_synthesis.templates,
            "Hong Kong": hong_kong_synthesis.templates,
            "Fargate, one hostname, WAF on": fargate_synthesis.templates,
        }
    )
    assert _docs_table() == table, f"regenerate docs/aws.md's cost table ({REGENERATE}):\n{table}"


def test_default_idle_cost_per_region_is_under_three_dollars(default_synthesis: Any) -> None:
    estimates = estimate(default_synthesis.templates)
    regional = sum(
        (e.idle_usd for name, e in estimates.items() if name != OBSERVABILITY), Decimal(0)
    )
    assert regional < 3


def test_default_has_no_waf_guardrail_or_customer_managed_key(default_synthesis: Any) -> None:
    kinds = {
        r["Type"] for t in default_synthesis.templates.values() for r in t["Resources"].values()
    }
    assert not kinds & {"AWS::WAFv2::WebACL", "AWS::Bedrock::Guardrail", "AWS::KMS::Key"}


def test_alarms_are_priced_per_metric_they_read_and_waf_per_rule() -> None:
    template = {
        "Resources": {
            "Math": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "a", "MetricStat": {}},
                        {"Id": "b", "MetricStat": {}},
                        {"Id": "sum", "Expression": "a + b"},
                    ]
                },
            },
            "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{}, {}]}},
        }
    }
    (only,) = estimate({"stack": template}).values()
    assert only.idle_usd == 2 * ALARM_METRIC_MONTH + WAF_WEB_ACL_MONTH + 2 * WAF_RULE_MONTH


def test_typical_token_cost_is_the_catalog_price_of_the_typical_request() -> None:
    assert typical_token_cost() == Decimal("0.00115")


def test_a_scheduled_replay_is_priced_per_run_with_its_sqs_receive() -> None:
    template = {
        "Resources": {
            "Replay": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "relay.spool.replay_handler",
                    "MemorySize": 512,
                    "Architectures": ["arm64"],
                    "Environment": {"Variables": {"RELAY_USAGE_SPOOL": {"Ref": "Queue"}}},
                },
            },
            "Schedule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(2 hours)",
                    "Targets": [{"Arn": {"Fn::GetAtt": ["Replay", "Arn"]}, "Id": "Target0"}],
                },
            },
        }
    }
    (only,) = estimate({"stack": template}).values()
    runs = 30 * 12  # every two hours for 30 days
    run = (
        LAMBDA_PER_MILLION_REQUESTS / 1_000_000
        + Decimal("0.5") * SCHEDULED_RUN_SECONDS * LAMBDA_GB_SECOND["arm64"]
        + LOGS_INGESTED_PER_GB * SCHEDULED_RUN_LOG_BYTES / 1024**3
        + SQS_PER_MILLION_REQUESTS / 1_000_000
    )
    (item,) = only.idle
    assert item.usd == runs * run
    assert "every 120 min (360 runs" in item.what
