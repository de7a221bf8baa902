"""A monthly billing budget for the project, with e-mail notifications at each threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.config import BudgetConfig


def units_and_nanos(amount: str) -> tuple[str, int]:
    """Split a decimal amount into the Money fields the Budget API takes."""
    whole, _, fraction = amount.partition(".")
    return whole, int((fraction + "000000000")[:9])


@dataclass(frozen=True)
class ProjectBudgetArgs:
    project: str
    budget: BudgetConfig
    notification_channels: Sequence[pulumi.Input[str]]


class ProjectBudget(pulumi.ComponentResource):
    """A budget scoped to this project (all its services: partner-model charges are not always
    billed under the Vertex AI service), notifying the alert e-mails and billing admins at each
    threshold of current spend. A budget alerts; it does not stop spending."""

    budget: gcp.billing.Budget

    def __init__(
        self, name: str, args: ProjectBudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:ProjectBudget", name, None, opts)
        # The Budget API filters by project number, not id.
        project = gcp.organizations.get_project_output(project_id=args.project)
        units, nanos = units_and_nanos(format(args.budget.amount, "f"))
        self.budget = gcp.billing.Budget(
            f"{name}-budget",
            billing_account=args.budget.billing_account,
            display_name=f"Claude on Vertex AI ({args.project})",
            amount={
                "specified_amount": {
                    "currency_code": args.budget.currency,
                    "units": units,
                    "nanos": nanos,
                }
            },
            budget_filter={
                "projects": [project.number.apply(lambda n: f"projects/{n}")],
                "calendar_period": "MONTH",
                "credit_types_treatment": "INCLUDE_ALL_CREDITS",
            },
            threshold_rules=[
                {"threshold_percent": t, "spend_basis": "CURRENT_SPEND"}
                for t in args.budget.thresholds
            ],
            all_updates_rule={
                "monitoring_notification_channels": list(args.notification_channels),
                "disable_default_iam_recipients": False,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budget": self.budget.name})
