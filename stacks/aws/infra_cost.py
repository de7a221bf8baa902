"""What the synthesised infrastructure costs: idle per month, and per request on top of tokens.

`estimate(templates)` reads a deployment's CloudFormation templates (what `cdk synth` wrote) and
prices what they hold, so the cost table in docs/aws.md is computed from the resources and
cannot drift from them (tests/stacks/aws/test_aws_infra_cost.py regenerates and compares it).

    .venv/bin/python -m stacks.aws.infra_cost cdk.out    # prints the table for a synthesis

Prices are AWS's us-east-1 list prices (other regions, ap-east-1 among them, are up to ~25%
higher), after free tiers are used up; token prices come from the catalog.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from relay.catalog import HAIKU_4_5

# --- Prices (USD), in one place, each with its source ---------------------------------------
# https://aws.amazon.com/waf/pricing/
WAF_WEB_ACL_MONTH = Decimal("5.00")
WAF_RULE_MONTH = Decimal("1.00")
WAF_PER_MILLION_REQUESTS = Decimal("0.60")
# https://aws.amazon.com/kms/pricing/
KMS_KEY_MONTH = Decimal("1.00")
# https://aws.amazon.com/cloudwatch/pricing/ (standard-resolution alarm, per metric it reads;
# dashboards beyond the account's first three; log ingestion)
ALARM_METRIC_MONTH = Decimal("0.10")
DASHBOARD_MONTH = Decimal("3.00")
LOGS_INGESTED_PER_GB = Decimal("0.50")
# https://aws.amazon.com/api-gateway/pricing/ (REST API, first 333 million requests)
REST_API_PER_MILLION_REQUESTS = Decimal("3.50")
# https://aws.amazon.com/lambda/pricing/
LAMBDA_PER_MILLION_REQUESTS = Decimal("0.20")
LAMBDA_GB_SECOND = {"arm64": Decimal("0.0000133334"), "x86_64": Decimal("0.0000166667")}
# https://aws.amazon.com/sqs/pricing/ (standard queue, beyond the first million requests a month)
SQS_PER_MILLION_REQUESTS = Decimal("0.40")
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_PER_MILLION_WRITE_UNITS = Decimal("0.625")
DYNAMODB_PER_MILLION_READ_UNITS = Decimal("0.125")
# https://aws.amazon.com/xray/pricing/ (per trace recorded, beyond 100,000 a month)
XRAY_PER_MILLION_TRACES = Decimal("5.00")
# https://aws.amazon.com/route53/pricing/ (health checks: the basic check and each optional
# feature, HTTPS among them, priced as a non-AWS endpoint: an execute-api host is not a
# resource of the account, so the AWS-endpoint rates ($0.50 + $1.00, the first 50 basic checks
# free) may apply but are not assumed). Alias queries to API Gateway are free.
HEALTH_CHECK_MONTH = Decimal("0.75")
HEALTH_CHECK_FEATURE_MONTH = Decimal("2.00")
# https://aws.amazon.com/bedrock/pricing/ (Guardrails: sensitive information filter)
GUARDRAIL_PII_PER_1000_TEXT_UNITS = Decimal("0.10")
# https://aws.amazon.com/fargate/pricing/ (Linux, per vCPU-hour and GB-hour)
FARGATE_VCPU_HOUR = {"ARM64": Decimal("0.03238"), "X86_64": Decimal("0.04048")}
FARGATE_GB_HOUR = {"ARM64": Decimal("0.00356"), "X86_64": Decimal("0.004445")}
# https://aws.amazon.com/elasticloadbalancing/pricing/ (Application Load Balancer); one LCU is
# the largest of 25 new connections a second, 3,000 active connections a minute, 1 GB processed
# an hour (IP targets) and 1,000 rule evaluations a second (the first 10 rules are free).
ALB_HOUR = Decimal("0.0225")
ALB_LCU_HOUR = Decimal("0.008")
LCU_NEW_CONNECTIONS_PER_SECOND = 25
LCU_ACTIVE_CONNECTIONS = 3000
LCU_GB_PER_HOUR = 1
# https://aws.amazon.com/vpc/pricing/ (every public IPv4 address, since February 2024)
PUBLIC_IPV4_HOUR = Decimal("0.005")
# https://aws.amazon.com/privatelink/pricing/ (interface endpoint, per zone)
VPC_ENDPOINT_ZONE_HOUR = Decimal("0.01")
# What the tasks reach without NAT: bedrock-runtime, sqs, logs, ecr.api and ecr.dkr as interface
# endpoints (DynamoDB and S3, for ECR's layers, have free gateway endpoints).
INTERFACE_ENDPOINTS = ("bedrock-runtime", "sqs", "logs", "ecr.api", "ecr.dkr")
# Hourly prices times AWS's 730-hour month.
HOURS_PER_MONTH = 730
# Free: EventBridge scheduled rules on the default bus (https://aws.amazon.com/eventbridge/pricing/),
# AWS Budgets without actions, Cost Anomaly Detection, SNS e-mail (first 1,000 a month),
# IAM, inference profiles, API keys and usage plans, idle Lambda, API Gateway and DynamoDB,
# ACM public certificates (https://aws.amazon.com/certificate-manager/pricing/) and API
# Gateway custom domain names.

# --- A typical request: Haiku 4.5, 400 input and 150 output tokens -------------------------
TYPICAL_MODEL = HAIKU_4_5
TYPICAL_INPUT_TOKENS = 400
TYPICAL_OUTPUT_TOKENS = 150
# The relay function is billed while it streams: ~0.6 s to the first token, 150 tokens at
# ~150 tokens/s, and the relay's own work.
TYPICAL_RELAY_SECONDS = Decimal("2.0")
TYPICAL_AUTHORIZER_SECONDS = Decimal("0.02")
# relay/dynamo.py per request of a key with a rate limit and daily and monthly budgets: the
# minute counter (1 write unit), the budget reservation (a transaction of 2 updates: 4) and the
# settlement (a transaction of the usage record and 2 updates: 6); the authorizer's key lookup
# (an eventually consistent read: 0.5 read units).
TYPICAL_WRITE_UNITS = 11
TYPICAL_READ_UNITS = Decimal("0.5")
# Access log line, function log lines, EMF metrics and Lambda's START/END/REPORT.
TYPICAL_LOG_BYTES = 2_500
# One WAF log record (the request's headers, key headers redacted).
WAF_LOG_BYTES = 1_500
# X-Ray's default sampling records the first request each second and 5% of the rest.
XRAY_SAMPLED_SHARE = Decimal("0.05")
# A scheduled run of the usage replay with nothing spooled: billed init of a cold instance
# (Python, boto3, two clients) and one empty ReceiveMessage; START/END/REPORT and one log line.
SCHEDULED_RUN_SECONDS = Decimal("1.0")
SCHEDULED_RUN_LOG_BYTES = 600
MINUTES_PER_MONTH = 30 * 24 * 60
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60}
# A text unit is 1,000 characters; ~4 characters per token.
CHARS_PER_TOKEN = 4

MILLION = Decimal(1_000_000)
GIB = Decimal(1024**3)


@dataclass(frozen=True)
class Item:
    what: str
    usd: Decimal


@dataclass(frozen=True)
class Estimate:
    idle: tuple[Item, ...]
    per_request: tuple[Item, ...]

    @property
    def idle_usd(self) -> Decimal:
        return sum((i.usd for i in self.idle), Decimal(0))

    @property
    def per_request_usd(self) -> Decimal:
        return sum((i.usd for i in self.per_request), Decimal(0))


def typical_token_cost() -> Decimal:
    """A typical request's token cost at the catalog's global-endpoint prices."""
    prices = TYPICAL_MODEL.prices
    return (prices.input * TYPICAL_INPUT_TOKENS + prices.output * TYPICAL_OUTPUT_TOKENS) / MILLION


def _of_type(template: Mapping[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        r.get("Properties", {})
        for r in template.get("Resources", {}).values()
        if r["Type"] == resource_type
    ]


def _alarm_metrics(alarm: Mapping[str, Any]) -> int:
    if "MetricName" in alarm:
        return 1
    return sum(1 for m in alarm.get("Metrics", ()) if "MetricStat" in m)


def _idle(template: Mapping[str, Any]) -> list[Item]:
    items: list[Item] = []
    for acl in _of_type(template, "AWS::WAFv2::WebACL"):
        rules = len(acl.get("Rules", ()))
        items.append(
            Item(f"WAF web ACL, {rules} rules", WAF_WEB_ACL_MONTH + WAF_RULE_MONTH * rules)
        )
    keys = len(_of_type(template, "AWS::KMS::Key"))
    if keys:
        items.append(Item(f"{keys} customer-managed KMS key(s)", KMS_KEY_MONTH * keys))
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    if alarms:
        metrics = sum(_alarm_metrics(a) for a in alarms)
        items.append(
            Item(f"{len(alarms)} alarms reading {metrics} metrics", ALARM_METRIC_MONTH * metrics)
        )
    dashboards = len(_of_type(template, "AWS::CloudWatch::Dashboard"))
    if dashboards:
        items.append(Item(f"{dashboards} dashboard(s)", DASHBOARD_MONTH * dashboards))
    for check in _of_type(template, "AWS::Route53::HealthCheck"):
        features = _health_check_features(check.get("HealthCheckConfig", {}))
        items.append(
            Item(
                f"Route 53 health check ({', '.join(features) or 'basic'})",
                HEALTH_CHECK_MONTH + HEALTH_CHECK_FEATURE_MONTH * len(features),
            )
        )
    certificates = len(_of_type(template, "AWS::CertificateManager::Certificate"))
    if certificates:
        items.append(Item(f"{certificates} ACM public certificate(s), free", Decimal(0)))
    return items + _scheduled(template) + _fargate_idle(template)


def task_hour(architecture: str, vcpu: Decimal, gb: Decimal) -> Decimal:
    return vcpu * FARGATE_VCPU_HOUR[architecture] + gb * FARGATE_GB_HOUR[architecture]


def _fargate_idle(template: Mapping[str, Any]) -> list[Item]:
    """Services' desired tasks, load balancers, and their public IPv4 addresses, all month."""
    resources = template.get("Resources", {})
    items: list[Item] = []
    addresses = 0
    for service in _of_type(template, "AWS::ECS::Service"):
        task = resources[service["TaskDefinition"]["Ref"]]["Properties"]
        count = int(service.get("DesiredCount", 1))
        architecture = task["RuntimePlatform"]["CpuArchitecture"]
        vcpu, gb = Decimal(task["Cpu"]) / 1024, Decimal(task["Memory"]) / 1024
        items.append(
            Item(
                f"{count} Fargate tasks ({architecture.lower()}, {vcpu} vCPU, {gb} GB)",
                count * task_hour(architecture, vcpu, gb) * HOURS_PER_MONTH,
            )
        )
        network = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        if network.get("AssignPublicIp") == "ENABLED":
            addresses += count
    for balancer in _of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        items.append(Item("Application Load Balancer", ALB_HOUR * HOURS_PER_MONTH))
        if balancer.get("Scheme") == "internet-facing":
            addresses += len(balancer.get("Subnets", ()))
    if addresses:
        items.append(
            Item(
                f"{addresses} public IPv4 addresses",
                addresses * PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
            )
        )
    return items


def _health_check_features(config: Mapping[str, Any]) -> list[str]:
    """The optional features Route 53 bills a health check for."""
    kind = str(config.get("Type", ""))
    features = []
    if kind.startswith("HTTPS"):
        features.append("HTTPS")
    if kind.endswith("STR_MATCH"):
        features.append("string matching")
    if config.get("RequestInterval") == 10:
        features.append("fast interval")
    if config.get("MeasureLatency"):
        features.append("latency graphs")
    return features


def _scheduled(template: Mapping[str, Any]) -> list[Item]:
    """Functions an EventBridge rate rule runs: each run's Lambda time and logs, and one SQS
    request if the function polls a queue (RELAY_USAGE_SPOOL)."""
    resources = template.get("Resources", {})
    items: list[Item] = []
    for rule in _of_type(template, "AWS::Events::Rule"):
        rate = _RATE.fullmatch(rule.get("ScheduleExpression", ""))
        if rate is None:
            continue
        every = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2)]
        runs = MINUTES_PER_MONTH // every
        for target in rule.get("Targets", ()):
            (logical_id, _) = target["Arn"]["Fn::GetAtt"]
            function = resources[logical_id]["Properties"]
            run = _invocation(function, SCHEDULED_RUN_SECONDS)
            run += LOGS_INGESTED_PER_GB * SCHEDULED_RUN_LOG_BYTES / GIB
            what = "Lambda"
            if "RELAY_USAGE_SPOOL" in function.get("Environment", {}).get("Variables", {}):
                run += SQS_PER_MILLION_REQUESTS / MILLION
                what = "Lambda and an SQS receive"
            items.append(
                Item(f"{function['Handler']} every {every} min ({runs:,} runs, {what})", run * runs)
            )
    return items


def _relay_function(template: Mapping[str, Any]) -> dict[str, Any] | None:
    for function in _of_type(template, "AWS::Lambda::Function"):
        if "RELAY_AUTH" in function.get("Environment", {}).get("Variables", {}):
            return function
    return None


def _relay_task_environment(template: Mapping[str, Any]) -> dict[str, Any] | None:
    for task in _of_type(template, "AWS::ECS::TaskDefinition"):
        for container in task.get("ContainerDefinitions", ()):
            environment = {e["Name"]: e["Value"] for e in container.get("Environment", ())}
            if "RELAY_AUTH" in environment:
                return environment
    return None


def _authorizer_function(template: Mapping[str, Any]) -> dict[str, Any] | None:
    for function in _of_type(template, "AWS::Lambda::Function"):
        if function.get("Handler") == "key_authorizer.handler.handler":
            return function
    return None


def _invocation(function: Mapping[str, Any], seconds: Decimal) -> Decimal:
    gb = Decimal(function.get("MemorySize", 128)) / 1024
    architecture = (function.get("Architectures") or ["x86_64"])[0]
    return LAMBDA_PER_MILLION_REQUESTS / MILLION + gb * seconds * LAMBDA_GB_SECOND[architecture]


def _lambda_requests(template: Mapping[str, Any], relay: Mapping[str, Any]) -> list[Item]:
    """What the Lambda compute adds per request: API Gateway, the relay and authorizer
    functions, X-Ray."""
    items = [Item("API Gateway REST request", REST_API_PER_MILLION_REQUESTS / MILLION)]
    memory = relay.get("MemorySize", 128)
    items.append(
        Item(
            f"relay Lambda, {memory} MB for {TYPICAL_RELAY_SECONDS} s",
            _invocation(relay, TYPICAL_RELAY_SECONDS),
        )
    )
    authorizer = _authorizer_function(template)
    if authorizer is not None:
        items.append(
            Item("key authorizer Lambda", _invocation(authorizer, TYPICAL_AUTHORIZER_SECONDS))
        )
    if relay.get("TracingConfig", {}).get("Mode") == "Active":
        items.append(
            Item("X-Ray (5% sampled)", XRAY_PER_MILLION_TRACES * XRAY_SAMPLED_SHARE / MILLION)
        )
    return items


def alb_request_lcu_usd() -> Decimal:
    """A request's share of the load balancer's LCUs: one new connection (25 a second fill an
    LCU), the dimension that dominates short requests; clients keeping connections alive pay
    less."""
    return ALB_LCU_HOUR / (LCU_NEW_CONNECTIONS_PER_SECOND * 3600)


def _per_request(template: Mapping[str, Any]) -> list[Item]:
    relay = _relay_function(template)
    task_environment = _relay_task_environment(template)
    if relay is not None:
        items = _lambda_requests(template, relay)
        environment = relay.get("Environment", {}).get("Variables", {})
    elif task_environment is not None:
        # The tasks are paid by the hour (idle above); per request only the ALB's LCUs.
        items = [Item("ALB LCU (a new connection)", alb_request_lcu_usd())]
        environment = task_environment
    else:
        return []
    items.append(
        Item(
            f"DynamoDB, {TYPICAL_WRITE_UNITS} write and {TYPICAL_READ_UNITS} read units",
            DYNAMODB_PER_MILLION_WRITE_UNITS * TYPICAL_WRITE_UNITS / MILLION
            + DYNAMODB_PER_MILLION_READ_UNITS * TYPICAL_READ_UNITS / MILLION,
        )
    )
    items.append(
        Item(
            f"CloudWatch Logs, {TYPICAL_LOG_BYTES:,} bytes",
            LOGS_INGESTED_PER_GB * TYPICAL_LOG_BYTES / GIB,
        )
    )
    if _of_type(template, "AWS::WAFv2::WebACLAssociation"):
        items.append(Item("WAF request", WAF_PER_MILLION_REQUESTS / MILLION))
    if _of_type(template, "AWS::WAFv2::LoggingConfiguration"):
        items.append(
            Item(f"WAF log, {WAF_LOG_BYTES:,} bytes", LOGS_INGESTED_PER_GB * WAF_LOG_BYTES / GIB)
        )
    if "RELAY_GUARDRAIL_ID" in environment:
        units = sum(
            -(-tokens * CHARS_PER_TOKEN // 1000)
            for tokens in (TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS)
        )
        items.append(
            Item(
                f"PII guardrail, {units} text units",
                GUARDRAIL_PII_PER_1000_TEXT_UNITS * units,
            )
        )
    return items


def estimate(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, Estimate]:
    """Each stack's estimate, by stack name."""
    return {
        name: Estimate(tuple(_idle(t)), tuple(_per_request(t))) for name, t in templates.items()
    }


def _usd(value: Decimal, places: int) -> str:
    return f"${value:.{places}f}"


def cost_table(variants: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The Markdown table for docs/aws.md: per variant and stack, idle items, then per request."""
    tokens = typical_token_cost()
    lines = [
        f"Per request: a typical {TYPICAL_MODEL.name} request ({TYPICAL_INPUT_TOKENS} input, "
        f"{TYPICAL_OUTPUT_TOKENS} output tokens) costs {_usd(tokens, 5)} in tokens.",
        "",
        "| Variant | Stack | Idle per month | Per request | Items |",
        "| --- | --- | --- | --- | --- |",
    ]
    for variant, templates in variants.items():
        estimates = estimate(templates)
        for stack, est in sorted(estimates.items()):
            items = "; ".join(
                [f"{i.what} {_usd(i.usd, 2)}" for i in est.idle]
                + [f"{i.what} {_usd(i.usd, 7)}" for i in est.per_request]
            )
            per_request = _usd(est.per_request_usd, 7) if est.per_request else "-"
            lines.append(
                f"| {variant} | {stack} | {_usd(est.idle_usd, 2)} | {per_request} | "
                f"{items or 'nothing billed while idle'} |"
            )
        idle = sum((e.idle_usd for e in estimates.values()), Decimal(0))
        relays = [e for e in estimates.values() if e.per_request]
        worst = max((e.per_request_usd for e in relays), default=Decimal(0))
        share = worst / tokens * 100
        lines.append(
            f"| **{variant}** | **total** | **{_usd(idle, 2)}** | **{_usd(worst, 7)} "
            f"({share:.1f}% of tokens)** | |"
        )
    return "\n".join(lines) + "\n"


def read_templates(outdir: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in sorted(outdir.glob("*.template.json"))
    }


def main(argv: Iterable[str] = ()) -> None:
    args = list(argv) or sys.argv[1:] or ["cdk.out"]
    print(cost_table({Path(a).name: read_templates(Path(a)) for a in args}), end="")


if __name__ == "__main__":
    main()
