"""Dashboard and alert policies on the PublisherModel metrics of the Anthropic publisher."""

from __future__ import annotations

import json

from gcp_program import Deployment

from stacks.gcp.config import AlertConfig

DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
METRICS = (
    "aiplatform.googleapis.com/publisher/online_serving/model_invocation_count",
    "aiplatform.googleapis.com/publisher/online_serving/model_invocation_latencies",
    "aiplatform.googleapis.com/publisher/online_serving/first_token_latencies",
    "aiplatform.googleapis.com/publisher/online_serving/token_count",
)


def _filters(dashboard_json: str) -> list[str]:
    tiles = json.loads(dashboard_json)["mosaicLayout"]["tiles"]
    return [
        ds["timeSeriesQuery"]["timeSeriesFilter"]["filter"]
        for tile in tiles
        for ds in tile["widget"]["xyChart"]["dataSets"]
    ]


def _policy(deployment: Deployment, key: str) -> dict[str, object]:
    return dict(deployment.named(f"monitoring-{key}").inputs)


def _threshold(deployment: Deployment, key: str) -> dict[str, object]:
    conditions = _policy(deployment, key)["conditions"]
    assert isinstance(conditions, list)
    return dict(conditions[0]["conditionThreshold"])


def test_dashboard_charts_every_claude_metric(default_deployment: Deployment) -> None:
    (dashboard,) = default_deployment.of_type(DASHBOARD)
    filters = _filters(dashboard.inputs["dashboardJson"])
    for metric in METRICS:
        assert any(f'metric.type = "{metric}"' in f for f in filters), metric


def test_dashboard_charts_only_anthropic_publisher_models(default_deployment: Deployment) -> None:
    (dashboard,) = default_deployment.of_type(DASHBOARD)
    for f in _filters(dashboard.inputs["dashboardJson"]):
        assert 'resource.type = "aiplatform.googleapis.com/PublisherModel"' in f
        assert 'resource.label.publisher = "anthropic"' in f


def test_four_alert_policies_exist(default_deployment: Deployment) -> None:
    assert sorted(p.name for p in default_deployment.of_type(POLICY)) == [
        "monitoring-errors",
        "monitoring-latency",
        "monitoring-throttled",
        "monitoring-tokens",
    ]


def test_error_alert_counts_5xx_invocations(default_deployment: Deployment) -> None:
    condition = _threshold(default_deployment, "errors")
    assert 'response_code = monitoring.regex.full_match("5.*")' in str(condition["filter"])
    assert condition["thresholdValue"] == AlertConfig().errors_per_minute


def test_throttle_alert_counts_429s(default_deployment: Deployment) -> None:
    condition = _threshold(default_deployment, "throttled")
    assert 'metric.label.response_code = "429"' in str(condition["filter"])


def test_latency_alert_uses_p95_first_token_latency(default_deployment: Deployment) -> None:
    condition = _threshold(default_deployment, "latency")
    assert METRICS[2] in str(condition["filter"])
    aggregations = condition["aggregations"]
    assert isinstance(aggregations, list)
    assert aggregations[0]["perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert condition["thresholdValue"] == AlertConfig().first_token_latency_p95_ms


def test_token_alert_watches_token_count(default_deployment: Deployment) -> None:
    condition = _threshold(default_deployment, "tokens")
    assert METRICS[3] in str(condition["filter"])
    assert condition["thresholdValue"] == AlertConfig().tokens_per_minute


def test_alerts_notify_every_alert_email(default_deployment: Deployment) -> None:
    channels = default_deployment.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    for policy in default_deployment.of_type(POLICY):
        assert len(policy.inputs["notificationChannels"]) == len(channels)


def test_dashboard_url_names_the_dashboard(default_deployment: Deployment) -> None:
    url = default_deployment.outputs["dashboardUrl"]
    assert url.startswith("https://console.cloud.google.com/monitoring/dashboards/builder/")
    assert "/projects/" not in url
