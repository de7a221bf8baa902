"""Alarms on one relay, sent to an encrypted SNS topic with the configured e-mails.

CloudWatch alarms only watch metrics of their own region, so each relay stack carries its own:
success rate (the non-5xx share at API Gateway, or at the load balancer for a Fargate relay), p99
time to first token, the relay's daily cost against the daily budget, DynamoDB throttling, usage
records waiting in the spool (the table refused them for three replays) or set aside in its
dead-letter queue, and Bedrock throttling itself (InvocationThrottles, where Bedrock runs in the
relay's region; otherwise the dashboard shows it). Per compute: on Lambda the relay function's
errors, throttles and concurrency near its reserved limit and the authorizer's errors; on
Fargate unhealthy tasks and the service's CPU near saturation (autoscaling at its maximum).
A key reaching its own limit is a `rate_limit_error` metric, not an alarm: it is the limit
working. Each alarm is $0.10 a month per metric it reads (docs/aws.md's cost table).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.aws.config import RelayKitSettings, RelaySite
from stacks.aws.constructs import metrics
from stacks.aws.nag import acknowledge

# Alarm when the relay's concurrency reaches this share of its reserved concurrency.
CONCURRENCY_ALARM_SHARE = 0.8
# Alarm when a Fargate relay's tasks average this CPU: autoscaling targets less, so this much
# for 15 minutes means the service is at its maximum task count (relaykit.fargate.maxTasks).
FARGATE_CPU_ALARM_PERCENT = 90


@dataclass(frozen=True)
class LambdaRelayMetrics:
    """What a Lambda relay's alarms watch beside the shared ones."""

    relay_function: lambda_.IFunction
    authorizer_function: lambda_.IFunction

    def requests_and_server_errors(
        self, site: RelaySite, stage: str
    ) -> tuple[cw.IMetric, cw.IMetric]:
        """The success rate's terms, counted at API Gateway."""
        return metrics.api(site, stage, "Count"), metrics.api(site, stage, "5XXError")


@dataclass(frozen=True)
class FargateRelayMetrics:
    """What a Fargate relay's alarms watch beside the shared ones."""

    load_balancer: elbv2.ApplicationLoadBalancer
    target_group: elbv2.ApplicationTargetGroup
    service: ecs.FargateService

    def requests_and_server_errors(
        self, site: RelaySite, stage: str
    ) -> tuple[cw.IMetric, cw.IMetric]:
        """The success rate's terms, counted at the load balancer: the relay's own 5xx and the
        load balancer's (no healthy task, a task cut off)."""
        balancer = self.load_balancer.metrics
        errors = cw.MathExpression(
            expression="FILL(relay, 0) + FILL(balancer, 0)",
            using_metrics={
                "relay": balancer.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=metrics.FIVE_MINUTES
                ),
                "balancer": balancer.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=metrics.FIVE_MINUTES
                ),
            },
            label="5xx answers",
            period=metrics.FIVE_MINUTES,
        )
        return balancer.request_count(period=metrics.FIVE_MINUTES), errors


@dataclass(frozen=True)
class RelayAlarmsProps:
    site: RelaySite
    settings: RelayKitSettings
    compute: LambdaRelayMetrics | FargateRelayMetrics
    usage_table: dynamodb.ITable
    usage_spool: sqs.IQueue
    usage_dead_letters: sqs.IQueue


class RelayAlarms(Construct):
    """Provisions `topic` (KMS-encrypted, TLS only, e-mail subscriptions) and `alarms` by name."""

    def __init__(self, scope: Construct, construct_id: str, props: RelayAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        site, settings = props.site, props.settings
        thresholds = settings.alarms
        namespace = settings.metrics_namespace
        stage = settings.stage_name
        self.key: kms.Key | None = None
        if settings.encryption.customer_managed_keys:
            self.key = kms.Key(
                self,
                "TopicKey",
                description=f"Encrypts the {site.name} relay's alarm topic",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.DESTROY,
            )
            # CloudWatch must be able to publish to the encrypted topic.
            self.key.grant(
                iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                "kms:Decrypt",
                "kms:GenerateDataKey*",
            )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Claude relay alarms ({site.name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        if self.key is None:
            unencrypted = (
                "Alarm notifications carry alarm names and thresholds, no data; CloudWatch "
                "cannot publish to a topic under the AWS managed SNS key, so encryption needs "
                "a customer-managed key at $1 a month (relaykit.encryption.customerManagedKeys)."
            )
            acknowledge(self.topic, unencrypted, "AwsSolutions-SNS2")
            cfn_topic = self.topic.node.default_child
            assert isinstance(cfn_topic, sns.CfnTopic)
            cfn_topic.add_metadata(
                "checkov", {"skip": [{"id": "CKV_AWS_26", "comment": unencrypted}]}
            )
        for email in thresholds.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cw.Alarm] = {}
        requests, server_errors = props.compute.requests_and_server_errors(site, stage)
        self._add(
            "SuccessRate",
            cw.MathExpression(
                expression="100 * (requests - errors) / requests",
                using_metrics={"requests": requests, "errors": server_errors},
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

        if isinstance(props.compute, LambdaRelayMetrics):
            self._add_function_alarms(props.compute, props.settings)
        else:
            self._add_task_alarms(props.compute)
        self._add_store_alarms(props)
        for target in site.targets if site.bedrock_region == site.region else ():
            suffix = "".join(w.title() for w in target.model.alias.split("-"))
            self._add(
                f"BedrockThrottles{suffix}",
                metrics.bedrock(target, "InvocationThrottles"),
                threshold=1,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=(
                    f"Bedrock throttled {target.model.alias} (account quota reached): raise "
                    "the quota or spread the load"
                ),
                evaluation_periods=3,
                datapoints=2,
            )

    def _add_task_alarms(self, compute: FargateRelayMetrics) -> None:
        self._add(
            "UnhealthyTasks",
            compute.target_group.metrics.unhealthy_host_count(
                statistic="Maximum", period=metrics.FIVE_MINUTES
            ),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="A relay task fails its /health checks (or cannot reach Bedrock)",
            evaluation_periods=3,
            datapoints=2,
        )
        self._add(
            "TasksCpu",
            compute.service.metric_cpu_utilization(period=metrics.FIVE_MINUTES),
            threshold=FARGATE_CPU_ALARM_PERCENT,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                f"Relay tasks at {FARGATE_CPU_ALARM_PERCENT}% CPU for 15 minutes: the service is "
                "at relaykit.fargate.maxTasks and requests queue"
            ),
            evaluation_periods=3,
            datapoints=3,
        )

    def _add_function_alarms(self, compute: LambdaRelayMetrics, settings: RelayKitSettings) -> None:
        relay, authorizer = compute.relay_function, compute.authorizer_function
        reserved = settings.lambda_.reserved_concurrency
        self._add(
            "RelayErrors",
            relay.metric_errors(period=metrics.FIVE_MINUTES),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="The relay function failed (crashes or timeouts, not API errors)",
            evaluation_periods=3,
            datapoints=2,
        )
        self._add(
            "RelayThrottles",
            relay.metric_throttles(period=metrics.FIVE_MINUTES),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="Requests found every reserved relay instance busy",
            evaluation_periods=1,
            datapoints=1,
        )
        self._add(
            "RelayConcurrency",
            relay.metric("ConcurrentExecutions", statistic="Maximum", period=metrics.FIVE_MINUTES),
            threshold=max(1, int(reserved * CONCURRENCY_ALARM_SHARE)),
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                f"Relay concurrency at {int(CONCURRENCY_ALARM_SHARE * 100)}% of its reserved "
                f"{reserved} (relaykit.lambda.reservedConcurrency)"
            ),
            evaluation_periods=3,
            datapoints=2,
        )
        self._add(
            "AuthorizerErrors",
            authorizer.metric_errors(period=metrics.FIVE_MINUTES),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="The key authorizer failed: clients get 500 api_error",
            evaluation_periods=3,
            datapoints=2,
        )

    def _add_store_alarms(self, props: RelayAlarmsProps) -> None:
        table = props.usage_table
        self._add(
            "TableThrottles",
            cw.MathExpression(
                expression="reads + writes",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", period=metrics.FIVE_MINUTES),
                    "writes": table.metric("WriteThrottleEvents", period=metrics.FIVE_MINUTES),
                },
                label="Key table throttle events",
                period=metrics.FIVE_MINUTES,
            ),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="DynamoDB throttled the relay's key table (limits and metering)",
            evaluation_periods=1,
            datapoints=1,
        )
        # A spooled record is replayed within five minutes once the table takes writes again:
        # still waiting after three replays means the table keeps refusing them.
        self._add(
            "UsageSpooled",
            props.usage_spool.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=metrics.FIVE_MINUTES
            ),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                "Usage records wait in the spool: the key table refused their settlement for "
                "15 minutes (budgets still count their reservations)"
            ),
            evaluation_periods=3,
            datapoints=3,
        )
        self._add(
            "UsageDeadLetters",
            props.usage_dead_letters.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=metrics.FIVE_MINUTES
            ),
            threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                "Usage records failed every replay and were set aside: fix the cause, then "
                "aws sqs start-message-move-task puts them back (kept 14 days)"
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
