"""The metrics the dashboard and alarms draw on: Bedrock's, API Gateway's and the relay's own.

The relay emits Powertools EMF metrics in its namespace with a `model` dimension (the catalog
alias); `Errors` also carries `error_type` (the Anthropic error type, e.g. rate_limit_error).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from relay.targets import BedrockTarget
from stacks.aws.config import RelaySite

FIVE_MINUTES = Duration.minutes(5)
ONE_DAY = Duration.days(1)


def bedrock(
    target: BedrockTarget, name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES
) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/Bedrock",
        metric_name=name,
        dimensions_map={"ModelId": target.model_id},
        statistic=statistic,
        period=period,
        region=target.region,
        label=f"{target.model.alias} {name} ({target.region})",
    )


def api(
    site: RelaySite, stage: str, name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES
) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/ApiGateway",
        metric_name=name,
        dimensions_map={"ApiName": site.api_name, "Stage": stage},
        statistic=statistic,
        period=period,
        region=site.region,
        label=f"{site.name} {name} {statistic}",
    )


def relay(
    site: RelaySite,
    namespace: str,
    alias: str,
    name: str,
    statistic: str = "Sum",
    period: Duration = FIVE_MINUTES,
    **dimensions: str,
) -> cw.Metric:
    return cw.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"model": alias, **dimensions},
        statistic=statistic,
        period=period,
        region=site.region,
        label=f"{site.name} {alias} {name} {statistic}",
    )
