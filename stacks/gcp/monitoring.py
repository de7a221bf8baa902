"""A Cloud Monitoring dashboard and alert policies for Claude on Vertex AI.

Claude calls report on the monitored resource `aiplatform.googleapis.com/PublisherModel` with
`resource.labels.publisher = "anthropic"`; series are grouped by `model_user_id`, so every Claude
model the project calls appears without the program spelling a model id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.config import AlertConfig

RESOURCE_TYPE = "aiplatform.googleapis.com/PublisherModel"
METRIC_PREFIX = "aiplatform.googleapis.com/publisher/online_serving/"
INVOCATIONS = METRIC_PREFIX + "model_invocation_count"
LATENCIES = METRIC_PREFIX + "model_invocation_latencies"
FIRST_TOKEN_LATENCIES = METRIC_PREFIX + "first_token_latencies"
TOKENS = METRIC_PREFIX + "token_count"

BY_MODEL = ["resource.label.model_user_id"]


def claude_filter(metric: str, extra: str = "") -> str:
    """A Monitoring filter for one metric of the Anthropic publisher models."""
    parts = [
        f'metric.type = "{metric}"',
        f'resource.type = "{RESOURCE_TYPE}"',
        'resource.label.publisher = "anthropic"',
    ]
    if extra:
        parts.append(extra)
    return " AND ".join(parts)


SERVER_ERRORS = 'metric.label.response_code = monitoring.regex.full_match("5.*")'
THROTTLED = 'metric.label.response_code = "429"'


@dataclass(frozen=True)
class AlertRule:
    """One threshold alert: the condition and what to do when it fires."""

    key: str
    title: str
    filter: str
    aligner: str
    reducer: str
    threshold: float
    duration: str
    runbook: str


def alert_rules(alerts: AlertConfig) -> list[AlertRule]:
    """The alert policies, as data (the component turns each into an AlertPolicy)."""
    return [
        AlertRule(
            key="errors",
            title="Claude on Vertex AI: server errors",
            filter=claude_filter(INVOCATIONS, SERVER_ERRORS),
            aligner="ALIGN_SUM",
            reducer="REDUCE_SUM",
            threshold=alerts.errors_per_minute,
            duration="300s",
            runbook="5xx answers from Vertex AI for five minutes. Check the Vertex AI status "
            "page; the relay can fall back to Bedrock.",
        ),
        AlertRule(
            key="throttled",
            title="Claude on Vertex AI: quota exhausted (429)",
            filter=claude_filter(INVOCATIONS, THROTTLED),
            aligner="ALIGN_SUM",
            reducer="REDUCE_SUM",
            threshold=alerts.throttled_per_minute,
            duration="300s",
            runbook="Requests are refused for quota. Compare usage with the granted values: "
            "`gcloud beta quotas preferences list --project=PROJECT`, then raise "
            "`quota` in the stack config and `pulumi up`.",
        ),
        AlertRule(
            key="latency",
            title="Claude on Vertex AI: slow first token (p95)",
            filter=claude_filter(FIRST_TOKEN_LATENCIES),
            aligner="ALIGN_PERCENTILE_95",
            reducer="REDUCE_MAX",
            threshold=alerts.first_token_latency_p95_ms,
            duration="600s",
            runbook="p95 time to first token stayed above the threshold for ten minutes.",
        ),
        AlertRule(
            key="tokens",
            title="Claude on Vertex AI: token burn rate",
            filter=claude_filter(TOKENS),
            aligner="ALIGN_SUM",
            reducer="REDUCE_SUM",
            threshold=alerts.tokens_per_minute,
            duration="300s",
            runbook="Tokens per minute (input and output) stayed above the threshold; "
            "look for a runaway client before the budget alerts.",
        ),
    ]


def _chart(
    title: str, metric_filter: str, aligner: str, reducer: str, group_by: list[str]
) -> dict[str, Any]:
    return {
        "title": title,
        "xyChart": {
            "dataSets": [
                {
                    "plotType": "LINE",
                    "timeSeriesQuery": {
                        "timeSeriesFilter": {
                            "filter": metric_filter,
                            "aggregation": {
                                "alignmentPeriod": "60s",
                                "perSeriesAligner": aligner,
                                "crossSeriesReducer": reducer,
                                "groupByFields": group_by,
                            },
                        }
                    },
                }
            ]
        },
    }


def dashboard_json(title: str) -> str:
    """The dashboard: invocations, errors, latency and tokens per Claude model."""
    charts = [
        _chart(
            "Invocations per minute",
            claude_filter(INVOCATIONS),
            "ALIGN_SUM",
            "REDUCE_SUM",
            BY_MODEL,
        ),
        _chart(
            "Invocations by response code",
            claude_filter(INVOCATIONS),
            "ALIGN_SUM",
            "REDUCE_SUM",
            ["metric.label.response_code"],
        ),
        _chart(
            "Server errors (5xx) per minute",
            claude_filter(INVOCATIONS, SERVER_ERRORS),
            "ALIGN_SUM",
            "REDUCE_SUM",
            BY_MODEL,
        ),
        _chart(
            "Throttled (429) per minute",
            claude_filter(INVOCATIONS, THROTTLED),
            "ALIGN_SUM",
            "REDUCE_SUM",
            BY_MODEL,
        ),
        _chart(
            "First token latency p95 (ms)",
            claude_filter(FIRST_TOKEN_LATENCIES),
            "ALIGN_PERCENTILE_95",
            "REDUCE_MAX",
            BY_MODEL,
        ),
        _chart(
            "Invocation latency p95 (ms)",
            claude_filter(LATENCIES),
            "ALIGN_PERCENTILE_95",
            "REDUCE_MAX",
            BY_MODEL,
        ),
        _chart(
            "Tokens per minute by type",
            claude_filter(TOKENS),
            "ALIGN_SUM",
            "REDUCE_SUM",
            ["metric.label.type", *BY_MODEL],
        ),
    ]
    width = 6
    tiles = [
        {"xPos": (i % 2) * width, "yPos": (i // 2) * 4, "width": width, "height": 4, "widget": c}
        for i, c in enumerate(charts)
    ]
    return json.dumps(
        {"displayName": title, "mosaicLayout": {"columns": 12, "tiles": tiles}}, indent=2
    )


@dataclass(frozen=True)
class ClaudeMonitoringArgs:
    project: str
    alerts: AlertConfig
    notification_channels: Sequence[pulumi.Input[str]]


class ClaudeMonitoring(pulumi.ComponentResource):
    """The dashboard and one alert policy per rule of `alert_rules`, notifying the alert e-mails."""

    dashboard: gcp.monitoring.Dashboard
    policies: dict[str, gcp.monitoring.AlertPolicy]
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClaudeMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:ClaudeMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.dashboard = gcp.monitoring.Dashboard(
            f"{name}-dashboard",
            project=args.project,
            dashboard_json=dashboard_json("Claude on Vertex AI"),
            opts=child,
        )
        self.policies = {
            rule.key: gcp.monitoring.AlertPolicy(
                f"{name}-{rule.key}",
                project=args.project,
                display_name=rule.title,
                combiner="OR",
                conditions=[
                    {
                        "display_name": rule.title,
                        "condition_threshold": {
                            "filter": rule.filter,
                            "comparison": "COMPARISON_GT",
                            "threshold_value": rule.threshold,
                            "duration": rule.duration,
                            "aggregations": [
                                {
                                    "alignment_period": "60s",
                                    "per_series_aligner": rule.aligner,
                                    "cross_series_reducer": rule.reducer,
                                    "group_by_fields": BY_MODEL,
                                }
                            ],
                        },
                    }
                ],
                notification_channels=list(args.notification_channels),
                documentation={"content": rule.runbook, "mime_type": "text/markdown"},
                alert_strategy={"auto_close": "1800s"},
                opts=child,
            )
            for rule in alert_rules(args.alerts)
        }
        # The dashboard's `id` is projects/NUMBER/dashboards/ID; the console wants the last part.
        self.dashboard_url = self.dashboard.id.apply(
            lambda i: (
                "https://console.cloud.google.com/monitoring/dashboards/builder/"
                f"{i.rsplit('/', 1)[-1]}?project={args.project}"
            )
        )
        self.register_outputs({"dashboard_url": self.dashboard_url})
