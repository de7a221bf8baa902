"""The billing budget: project-scoped, the configured amount, 50/90/100/120 % thresholds."""

from __future__ import annotations

from gcp_program import PROJECT_NUMBER, Deployment, base_config

from stacks.gcp.budget import units_and_nanos

BUDGET = "gcp:billing/budget:Budget"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"


def test_budget_thresholds_are_50_90_100_120_percent(default_deployment: Deployment) -> None:
    (budget,) = default_deployment.of_type(BUDGET)
    assert [r["thresholdPercent"] for r in budget.inputs["thresholdRules"]] == [0.5, 0.9, 1.0, 1.2]


def test_budget_thresholds_apply_to_current_spend(default_deployment: Deployment) -> None:
    (budget,) = default_deployment.of_type(BUDGET)
    assert {r["spendBasis"] for r in budget.inputs["thresholdRules"]} == {"CURRENT_SPEND"}


def test_budget_amount_and_account_come_from_config(default_deployment: Deployment) -> None:
    (budget,) = default_deployment.of_type(BUDGET)
    config = base_config()["budget"]
    assert budget.inputs["billingAccount"] == config["billingAccount"]
    assert budget.inputs["amount"]["specifiedAmount"] == {
        "currencyCode": "USD",
        "units": str(config["amount"]),
        "nanos": 0,
    }


def test_budget_is_scoped_to_the_project_number(default_deployment: Deployment) -> None:
    (budget,) = default_deployment.of_type(BUDGET)
    assert budget.inputs["budgetFilter"]["projects"] == [f"projects/{PROJECT_NUMBER}"]


def test_budget_notifies_every_alert_email(default_deployment: Deployment) -> None:
    (budget,) = default_deployment.of_type(BUDGET)
    channels = default_deployment.of_type(CHANNEL)
    assert sorted(c.inputs["labels"]["email_address"] for c in channels) == sorted(
        base_config()["alertEmails"]
    )
    assert len(budget.inputs["allUpdatesRule"]["monitoringNotificationChannels"]) == len(channels)


def test_fractional_amount_splits_into_units_and_nanos() -> None:
    assert units_and_nanos("250.5") == ("250", 500_000_000)
