"""Spend alerting for the account's Bedrock use: an AWS Budget (e-mail at 80% actual and 100%
forecast) and an AWS Cost Anomaly Detection subscription (a daily e-mail when spend is anomalous
by more than a day's budget).

Anthropic's models on Bedrock are sold through AWS Marketplace and bill under a Cost Explorer
service name per model rather than "Amazon Bedrock", so the budget filters on the configured
service names OR the AWS Marketplace billing entity (see `Budget` in config.py).
Budgets and anomaly detection are free (AWS Budgets: no charge for budgets without actions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_ce as ce
from constructs import Construct

MARKETPLACE = "AWS Marketplace"


@dataclass(frozen=True)
class BedrockBudgetProps:
    name: str
    monthly_usd: float
    services: tuple[str, ...]
    include_marketplace: bool = True
    emails: tuple[str, ...] = ()
    anomaly_detection: bool = True
    # An existing AWS-services anomaly monitor to subscribe to; None: create one.
    anomaly_monitor_arn: str | None = None


def _dimension(key: str, values: tuple[str, ...]) -> budgets.CfnBudget.ExpressionProperty:
    return budgets.CfnBudget.ExpressionProperty(
        dimensions=budgets.CfnBudget.ExpressionDimensionValuesProperty(key=key, values=list(values))
    )


def spend_filter(
    services: tuple[str, ...], include_marketplace: bool
) -> budgets.CfnBudget.ExpressionProperty | None:
    """What the budget counts: the services, or the Marketplace billing entity; None: all."""
    parts = []
    if services:
        parts.append(_dimension("SERVICE", services))
    if include_marketplace:
        parts.append(_dimension("BILLING_ENTITY", (MARKETPLACE,)))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return budgets.CfnBudget.ExpressionProperty(or_=parts)


class BedrockBudget(Construct):
    """Provisions `budget` (monthly COST budget, FilterExpression), and, with e-mails and anomaly
    detection on, `anomaly_subscription` and (unless one is given) `anomaly_monitor`."""

    def __init__(self, scope: Construct, construct_id: str, props: BedrockBudgetProps) -> None:
        super().__init__(scope, construct_id)
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(address=e, subscription_type="EMAIL")
            for e in props.emails
        ]
        notifications = (
            [
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        comparison_operator="GREATER_THAN",
                        notification_type=kind,
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ]
            if subscribers
            else None
        )
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=props.name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=props.monthly_usd, unit="USD"),
                filter_expression=spend_filter(props.services, props.include_marketplace),
            ),
            notifications_with_subscribers=notifications,
        )
        self.anomaly_monitor: ce.CfnAnomalyMonitor | None = None
        self.anomaly_subscription: ce.CfnAnomalySubscription | None = None
        if not (props.anomaly_detection and props.emails):
            return
        monitor_arn = props.anomaly_monitor_arn
        if monitor_arn is None:
            self.anomaly_monitor = ce.CfnAnomalyMonitor(
                self,
                "AnomalyMonitor",
                monitor_name=f"{props.name}-services",
                monitor_type="DIMENSIONAL",
                monitor_dimension="SERVICE",
            )
            monitor_arn = self.anomaly_monitor.attr_monitor_arn
        daily_usd = round(props.monthly_usd / 30, 2)
        self.anomaly_subscription = ce.CfnAnomalySubscription(
            self,
            "AnomalySubscription",
            subscription_name=f"{props.name}-anomalies",
            frequency="DAILY",
            monitor_arn_list=[monitor_arn],
            subscribers=[
                ce.CfnAnomalySubscription.SubscriberProperty(address=e, type="EMAIL")
                for e in props.emails
            ],
            # An anomaly whose impact exceeds a day's budget is worth an e-mail.
            threshold_expression=json.dumps(
                {
                    "Dimensions": {
                        "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
                        "Values": [str(daily_usd)],
                    }
                }
            ),
        )
