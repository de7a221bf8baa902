"""Config parsing: valid config becomes typed values; each mistake names its key and the fix."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from gcp_program import PROJECT_ID, RELAY_ACCOUNT

from relay.catalog import DEFAULT_MODEL, MODELS
from stacks.gcp.config import DEFAULT_QUOTA, ConfigError, parse


def _error(raw: dict[str, Any], project: str | None = PROJECT_ID) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(raw, project=project)
    return caught.value


def test_valid_config_resolves_models_from_the_catalog(config_data: dict[str, Any]) -> None:
    assert parse(config_data, project=PROJECT_ID).models == (DEFAULT_MODEL,)


def test_models_default_to_the_catalog_default(config_data: dict[str, Any]) -> None:
    del config_data["models"]
    assert parse(config_data, project=PROJECT_ID).models == (DEFAULT_MODEL,)


def test_unknown_model_error_lists_the_valid_aliases(config_data: dict[str, Any]) -> None:
    config_data["models"] = ["claude-not-a-model"]
    error = _error(config_data)
    assert error.key == "models[0]"
    for model in MODELS:
        if model.vertex_id:
            assert model.alias in str(error)


def test_duplicate_model_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["models"] = [DEFAULT_MODEL.alias, DEFAULT_MODEL.alias]
    assert _error(config_data).key == "models[1]"


def test_missing_project_names_gcp_project(config_data: dict[str, Any]) -> None:
    error = _error(config_data, project=None)
    assert error.key == "gcp:project"
    assert "pulumi config set gcp:project" in str(error)


def test_regions_default_to_global(config_data: dict[str, Any]) -> None:
    del config_data["regions"]
    assert parse(config_data, project=PROJECT_ID).regions == ("global",)


def test_first_region_is_primary(config_data: dict[str, Any]) -> None:
    # A model listing two regions, or one listing none (its regions are not checked).
    model = next(
        (m for m in MODELS if m.vertex_id and len(m.vertex_regions) != 1),
        None,
    )
    if model is None:
        pytest.skip("every catalog model lists exactly one Vertex region")
    regions = list(reversed(model.vertex_regions)) or ["us-east5", "global"]
    config_data["models"] = [model.alias]
    config_data["regions"] = regions
    assert parse(config_data, project=PROJECT_ID).primary_region == regions[0]


def test_malformed_region_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["regions"] = ["US East"]
    assert _error(config_data).key == "regions[0]"


def test_region_outside_a_models_catalog_regions_is_rejected(config_data: dict[str, Any]) -> None:
    listed = [m for m in MODELS if m.vertex_id and m.vertex_regions]
    if not listed:
        pytest.skip("the catalog lists no Vertex regions yet")
    config_data["models"] = [listed[0].alias]
    config_data["regions"] = ["antarctica-south1"]
    error = _error(config_data)
    assert error.key == "regions[0]"
    assert listed[0].vertex_regions[0] in str(error)


def test_quota_values_come_from_config(config_data: dict[str, Any]) -> None:
    quota = parse(config_data, project=PROJECT_ID).quota
    assert quota.default.requests_per_minute == config_data["quota"]["requestsPerMinute"]


def test_quota_defaults_apply_when_unset(config_data: dict[str, Any]) -> None:
    config_data["quota"] = {}
    assert parse(config_data, project=PROJECT_ID).quota.default == DEFAULT_QUOTA


def test_quota_contact_defaults_to_first_alert_email(config_data: dict[str, Any]) -> None:
    quota = parse(config_data, project=PROJECT_ID).quota
    assert quota.contact_email == config_data["alertEmails"][0]


def test_zero_quota_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["quota"]["inputTokensPerMinute"] = 0
    assert _error(config_data).key == "quota.inputTokensPerMinute"


def test_per_model_quota_overrides_the_default(config_data: dict[str, Any]) -> None:
    config_data["quota"]["perModel"] = {DEFAULT_MODEL.alias: {"requestsPerMinute": 7}}
    quota = parse(config_data, project=PROJECT_ID).quota
    values = quota.values_for(DEFAULT_MODEL)
    assert values.requests_per_minute == 7
    assert values.input_tokens_per_minute == quota.default.input_tokens_per_minute


def test_per_model_quota_for_an_unselected_model_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["quota"]["perModel"] = {"claude-elsewhere": {"requestsPerMinute": 7}}
    assert _error(config_data).key == "quota.perModel.claude-elsewhere"


def test_budget_is_required(config_data: dict[str, Any]) -> None:
    del config_data["budget"]
    assert _error(config_data).key == "budget"


def test_budget_thresholds_become_fractions(config_data: dict[str, Any]) -> None:
    budget = parse(config_data, project=PROJECT_ID).budget
    assert budget.thresholds == (0.5, 0.9, 1.0, 1.2)


def test_budget_amount_is_decimal(config_data: dict[str, Any]) -> None:
    config_data["budget"]["amount"] = "250.50"
    assert parse(config_data, project=PROJECT_ID).budget.amount == Decimal("250.50")


def test_negative_budget_amount_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["budget"]["amount"] = -1
    assert _error(config_data).key == "budget.amount"


def test_unsorted_thresholds_are_rejected(config_data: dict[str, Any]) -> None:
    config_data["budget"]["thresholdsPercent"] = [90, 50]
    assert _error(config_data).key == "budget.thresholdsPercent"


def test_malformed_billing_account_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["budget"]["billingAccount"] = "my-account"
    error = _error(config_data)
    assert error.key == "budget.billingAccount"
    assert "gcloud billing projects describe" in str(error)


def test_alert_emails_are_required(config_data: dict[str, Any]) -> None:
    del config_data["alertEmails"]
    assert _error(config_data).key == "alertEmails"


def test_invalid_alert_email_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["alertEmails"] = ["oncall@example.com", "not-an-address"]
    assert _error(config_data).key == "alertEmails[1]"


def test_more_than_five_alert_emails_are_rejected(config_data: dict[str, Any]) -> None:
    config_data["alertEmails"] = [f"user{i}@example.com" for i in range(6)]
    assert _error(config_data).key == "alertEmails"


def test_federation_is_required(config_data: dict[str, Any]) -> None:
    del config_data["federation"]
    assert _error(config_data).key == "federation"


def test_account_is_taken_from_the_role_arn(config_data: dict[str, Any]) -> None:
    assert parse(config_data, project=PROJECT_ID).federation.aws_account_id == RELAY_ACCOUNT


def test_assumed_role_arn_drops_the_role_path(config_data: dict[str, Any]) -> None:
    federation = parse(config_data, project=PROJECT_ID).federation
    assert federation.assumed_role_arns == (
        f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/claude-relay-fn-role",
    )


def test_account_that_differs_from_the_arn_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["federation"]["awsAccountId"] = "111111111111"
    assert _error(config_data).key == "federation.awsAccountId"


def test_session_arn_is_not_a_role_arn(config_data: dict[str, Any]) -> None:
    config_data["federation"]["relayRoleArn"] = (
        f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/claude-relay-fn-role/session"
    )
    assert _error(config_data).key == "federation.relayRoleArn"


def test_ci_oidc_requires_a_subject(config_data: dict[str, Any]) -> None:
    config_data["federation"]["ciOidc"] = {"issuerUri": "https://token.example.com"}
    assert _error(config_data).key == "federation.ciOidc.subject"


def test_ci_oidc_requires_an_https_issuer(config_data: dict[str, Any]) -> None:
    config_data["federation"]["ciOidc"] = {"issuerUri": "http://x", "subject": "repo:a/b"}
    assert _error(config_data).key == "federation.ciOidc.issuerUri"


def test_service_account_key_is_off_by_default(config_data: dict[str, Any]) -> None:
    assert parse(config_data, project=PROJECT_ID).create_service_account_key is False


def test_prefix_reserved_by_google_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["prefix"] = "gcp-claude"
    assert _error(config_data).key == "prefix"


def test_error_message_names_namespace_key_and_fix(config_data: dict[str, Any]) -> None:
    config_data["budget"]["amount"] = "lots"
    message = str(_error(config_data))
    assert message.startswith("claude-vertex:budget.amount: ")
    assert "Fix: pulumi config set --path budget.amount" in message


def test_unknown_key_is_rejected(config_data: dict[str, Any]) -> None:
    config_data["budgets"] = {}
    error = _error(config_data)
    assert error.key == "budgets"
    assert "budget" in str(error)


def test_a_list_of_role_arns_is_read_and_the_single_one_still_is(
    config_data: dict[str, Any],
) -> None:
    single = parse(config_data, project=PROJECT_ID).federation
    del config_data["federation"]["relayRoleArn"]
    config_data["federation"]["relayRoleArns"] = [
        f"arn:aws:iam::{RELAY_ACCOUNT}:role/ClaudeRelay-us-relay-us-east-1",
        f"arn:aws:iam::{RELAY_ACCOUNT}:role/ClaudeRelay-hk-relay-ap-east-1",
    ]
    listed = parse(config_data, project=PROJECT_ID).federation
    assert single.relay_role_names == ("claude-relay-fn-role",)
    assert listed.relay_role_names == (
        "ClaudeRelay-us-relay-us-east-1",
        "ClaudeRelay-hk-relay-ap-east-1",
    )


@pytest.mark.parametrize(
    ("arns", "key"),
    [
        ([], "federation.relayRoleArns"),
        (["not-an-arn"], "federation.relayRoleArns[0]"),
        (
            [f"arn:aws:iam::{RELAY_ACCOUNT}:role/a", "arn:aws:iam::111111111111:role/b"],
            "federation.relayRoleArns",
        ),
    ],
)
def test_bad_role_lists_name_the_key(config_data: dict[str, Any], arns: Any, key: str) -> None:
    del config_data["federation"]["relayRoleArn"]
    config_data["federation"]["relayRoleArns"] = arns
    assert _error(config_data).key == key


def test_both_role_keys_together_are_refused(config_data: dict[str, Any]) -> None:
    config_data["federation"]["relayRoleArns"] = [config_data["federation"]["relayRoleArn"]]
    assert _error(config_data).key == "federation.relayRoleArn"
