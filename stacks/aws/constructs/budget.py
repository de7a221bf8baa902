"""An AWS Budget on the account's Bedrock spend, e-mailing at 80% actual and 100% forecast."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_budgets as budgets
from constructs import Construct


@dataclass(frozen=True)
class BedrockBudgetProps:
    name: str
    monthly_usd: float
    services: tuple[str, ...]
    emails: tuple[str, ...] = ()


class BedrockBudget(Construct):
    """Provisions `budget`, a monthly COST budget filtered to the Bedrock services."""

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
                cost_filters={"Service": list(props.services)},
            ),
            notifications_with_subscribers=notifications,
        )
