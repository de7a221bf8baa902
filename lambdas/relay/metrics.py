"""CloudWatch metrics in Embedded Metric Format (Powertools), one document per request.

Every metric carries the `model` dimension set; with RELAY_METRICS_PER_KEY (cdk context
`metrics.perKey`) also `model`+`key`, so a dashboard can draw one key, at $0.30 a month per key,
model and metric name (10 metrics: 50 keys on one model are $150 a month). `Errors` carries
`model`+`error_type`. The namespace comes from POWERTOOLS_METRICS_NAMESPACE (the stacks set it),
"ClaudeRelay" otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from relay.settings import metrics_per_key
from relay.usage import UsageRecord

DEFAULT_NAMESPACE = "ClaudeRelay"


def _metrics() -> EphemeralMetrics:
    # No `service` dimension: the dashboards query by model (and key) alone.
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    return EphemeralMetrics(namespace=namespace, service="")


def emit(
    record: UsageRecord,
    alias: str,
    error_type: str | None,
    fell_back: bool,
    *,
    saved_usd: Decimal | None = None,
    latency: Mapping[str, int] | None = None,
) -> None:
    """Print the request's metrics; Lambda ships stdout's EMF lines to CloudWatch.

    The routing metrics (`SavedUSD` when another model than the one asked for served,
    `Downgrades`, and `latency`'s counts: `SlowFailovers`, `Hedges`, `HedgeWins`) are emitted
    only when they apply, so a deployment that uses none of them pays for none."""
    metrics = _metrics()
    metrics.add_dimension(name="model", value=alias)
    if metrics_per_key(os.environ):
        metrics.add_dimensions(model=alias, key=record.key_id)
    count = MetricUnit.Count
    metrics.add_metric(name="Requests", unit=count, value=1)
    metrics.add_metric(name="InputTokens", unit=count, value=record.input_tokens)
    metrics.add_metric(name="OutputTokens", unit=count, value=record.output_tokens)
    metrics.add_metric(name="CacheReadTokens", unit=count, value=record.cache_read_tokens)
    metrics.add_metric(name="CacheWriteTokens", unit=count, value=record.cache_write_tokens)
    metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=float(record.cost_usd))
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=record.latency_ms)
    if record.ttft_ms is not None:
        metrics.add_metric(
            name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=record.ttft_ms
        )
    metrics.add_metric(name="CacheHits", unit=count, value=int(record.cached))
    metrics.add_metric(name="Fallbacks", unit=count, value=int(fell_back))
    if saved_usd is not None:
        metrics.add_metric(name="SavedUSD", unit=MetricUnit.NoUnit, value=float(saved_usd))
    if record.downgraded:
        metrics.add_metric(name="Downgrades", unit=count, value=1)
    for name, value in (latency or {}).items():
        if value:
            metrics.add_metric(name=name, unit=count, value=value)
    metrics.flush_metrics()
    if error_type is not None:
        errors = _metrics()
        errors.add_dimension(name="model", value=alias)
        errors.add_dimension(name="error_type", value=error_type)
        errors.add_metric(name="Errors", unit=count, value=1)
        errors.flush_metrics()
