"""Alarms on one relay, sent to an encrypted SNS topic with the configured e-mails.

CloudWatch alarms only watch metrics of their own region, so each relay stack carries its own:
success rate (API Gateway, non-5xx share), p99 time to first token, throttling seen by the relay
(rate_limit_error), and the relay's daily cost against the daily budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.aws.config import RelayKitSettings, RelaySite
from stacks.aws.constructs import metrics


@dataclass(frozen=True)
class RelayAlarmsProps:
    site: RelaySite
    settings: RelayKitSettings


class RelayAlarms(Construct):
    """Provisions `topic` (KMS-encrypted, TLS only, e-mail subscriptions) and `alarms` by name."""

    def __init__(self, scope: Construct, construct_id: str, props: RelayAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        site, settings = props.site, props.settings
        thresholds = settings.alarms
        namespace = settings.metrics_namespace
        stage = settings.stage_name
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {site.name} relay's alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch must be able to publish to the encrypted topic.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Claude relay alarms ({site.name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in thresholds.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cw.Alarm] = {}
        count = metrics.api(site, stage, "Count")
        server_errors = metrics.api(site, stage, "5XXError")
        self._add(
            "SuccessRate",
            cw.MathExpression(
                expression="100 * (requests - errors) / requests",
                using_metrics={"requests": count, "errors": server_errors},
                label="Success rate (%)",
                period=metrics.FIVE_MINUTES,
            ),
            threshold=thresholds.success_rate_percent,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            description=f"Fewer than {thresholds.success_rate_percent}% of requests succeeded",
            evaluation_periods=3,
            datapoints=2,
        )
        aliases = [t.model.alias for t in site.targets]
        for alias in aliases:
            suffix = "".join(w.title() for w in alias.split("-"))
            self._add(
                f"P99Latency{suffix}",
                metrics.relay(site, namespace, alias, "TimeToFirstToken", "p99"),
                threshold=thresholds.p99_latency_ms,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=(
                    f"p99 time to first token of {alias} above {thresholds.p99_latency_ms} ms"
                ),
                evaluation_periods=3,
                datapoints=2,
            )
            self._add(
                f"Throttling{suffix}",
                metrics.relay(site, namespace, alias, "Errors", error_type="rate_limit_error"),
                threshold=thresholds.throttles_per_5_minutes,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"{alias} requests throttled (rate_limit_error)",
                evaluation_periods=1,
                datapoints=1,
            )
        daily_limit = round(settings.budget.daily_usd * thresholds.cost_alarm_percent / 100, 2)
        costs = {
            f"c{i}": metrics.relay(site, namespace, alias, "CostUSD", period=metrics.ONE_DAY)
            for i, alias in enumerate(aliases)
        }
        self._add(
            "DailyCost",
            cw.MathExpression(
                expression=" + ".join(costs),
                using_metrics=costs,
                label="Cost (USD/day)",
                period=metrics.ONE_DAY,
            ),
            threshold=daily_limit,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=(
                f"Daily cost above {thresholds.cost_alarm_percent}% of the daily budget "
                f"(USD {settings.budget.daily_usd:.2f})"
            ),
            evaluation_periods=1,
            datapoints=1,
        )

    def _add(
        self,
        name: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        comparison: cw.ComparisonOperator,
        description: str,
        evaluation_periods: int,
        datapoints: int,
    ) -> None:
        alarm = cw.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms[name] = alarm
