"""The deployment's observability: one dashboard across its regions and the Bedrock budget.

Alarms sit in each relay's stack, because an alarm can only watch metrics of its own region.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.aws.config import RelayKitConfig
from stacks.aws.constructs.budget import BedrockBudget, BedrockBudgetProps
from stacks.aws.constructs.dashboard import DeploymentDashboard, DeploymentDashboardProps


class ObservabilityStack(Stack):
    """Composes `dashboard` and `budget`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: RelayKitConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Claude relay dashboard, Bedrock budget and cost anomaly alerts",
            **kwargs,
        )
        settings = config.settings
        self.dashboard = DeploymentDashboard(
            self,
            "Dashboard",
            DeploymentDashboardProps(config=config, name=f"{settings.prefix}-relay"),
        )
        self.budget = BedrockBudget(
            self,
            "Budget",
            BedrockBudgetProps(
                name=f"{settings.prefix}-bedrock",
                monthly_usd=settings.budget.monthly_usd,
                services=settings.budget.services,
                include_marketplace=settings.budget.include_marketplace,
                emails=settings.alarms.emails,
                anomaly_detection=settings.budget.anomaly_detection,
                anomaly_monitor_arn=settings.budget.anomaly_monitor_arn,
            ),
        )
        CfnOutput(self, "DashboardName", value=f"{settings.prefix}-relay")
