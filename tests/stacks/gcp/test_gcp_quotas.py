"""Quota preferences: requests and input/output tokens per minute per base model and location."""

from __future__ import annotations

from typing import Any

import pytest
from gcp_program import PROJECT_ID, Deployment, base_config, run_program

from relay.catalog import DEFAULT_MODEL, MODELS
from stacks.gcp.config import parse
from stacks.gcp.quotas import (
    GLOBAL_QUOTA_IDS,
    MULTI_REGION_QUOTA_IDS,
    REGIONAL_QUOTA_IDS,
    Kind,
    quota_targets,
)

PREFERENCE = "gcp:cloudquota/sQuotaPreference:SQuotaPreference"
VERTEX_MODELS = [m for m in MODELS if m.vertex_id]


def _config(**changes: Any) -> dict[str, Any]:
    return base_config() | changes


def test_one_preference_per_kind_for_one_model_and_location(
    default_deployment: Deployment,
) -> None:
    assert len(default_deployment.of_type(PREFERENCE)) == len(Kind)


def test_preferences_target_vertex_ai_in_the_project(default_deployment: Deployment) -> None:
    for pref in default_deployment.of_type(PREFERENCE):
        assert pref.inputs["service"] == "aiplatform.googleapis.com"
        assert pref.inputs["parent"] == f"projects/{PROJECT_ID}"


def test_global_requests_preference_matches_config(default_deployment: Deployment) -> None:
    location = base_config()["regions"][0]
    if location != "global":
        pytest.skip("the default model is not offered on the global endpoint")
    pref = default_deployment.named(f"quotas-{DEFAULT_MODEL.alias}-global-requests")
    assert pref.inputs["quotaId"] == "GlobalOnlinePredictionRequestsPerMinutePerProjectPerBaseModel"
    assert pref.inputs["dimensions"] == {"base_model": DEFAULT_MODEL.vertex_base_model}
    assert pref.inputs["quotaConfig"] == {
        "preferredValue": str(base_config()["quota"]["requestsPerMinute"])
    }


def test_token_preferences_carry_the_configured_values(default_deployment: Deployment) -> None:
    quota = base_config()["quota"]
    location = base_config()["regions"][0]
    values = {
        pref.name.rsplit(f"{location}-", 1)[1]: pref.inputs["quotaConfig"]["preferredValue"]
        for pref in default_deployment.of_type(PREFERENCE)
    }
    assert values["input-tokens"] == str(quota["inputTokensPerMinute"])
    assert values["output-tokens"] == str(quota["outputTokensPerMinute"])


def test_contact_and_justification_are_set(default_deployment: Deployment) -> None:
    for pref in default_deployment.of_type(PREFERENCE):
        assert pref.inputs["contactEmail"] == base_config()["alertEmails"][0]
        assert pref.inputs["justification"]


def test_quota_disabled_creates_no_preferences() -> None:
    config = _config(quota=base_config()["quota"] | {"enabled": False})
    assert run_program(config).of_type(PREFERENCE) == []


def test_every_selected_model_and_location_gets_three_preferences() -> None:
    cfg = parse(base_config(), project=PROJECT_ID)
    targets = quota_targets(VERTEX_MODELS, ["global", "us-east5", "eu"], cfg.quota)
    assert len(targets) == len(VERTEX_MODELS) * 3 * len(Kind)
    assert {t.dimensions["base_model"] for t in targets} == {
        m.vertex_base_model for m in VERTEX_MODELS
    }


def test_regional_preferences_carry_the_region_dimension() -> None:
    cfg = parse(base_config(), project=PROJECT_ID)
    (target,) = [
        t
        for t in quota_targets([DEFAULT_MODEL], ["us-east5"], cfg.quota)
        if t.kind is Kind.REQUESTS
    ]
    assert target.quota_id == REGIONAL_QUOTA_IDS[Kind.REQUESTS]
    assert target.dimensions == {
        "region": "us-east5",
        "base_model": DEFAULT_MODEL.vertex_base_model,
    }


def test_multi_region_preferences_use_their_own_quota_ids() -> None:
    cfg = parse(base_config(), project=PROJECT_ID)
    targets = quota_targets([DEFAULT_MODEL], ["eu"], cfg.quota)
    assert {t.quota_id for t in targets} == set(MULTI_REGION_QUOTA_IDS["eu"].values())
    assert all("region" not in t.dimensions for t in targets)


def test_global_ids_cover_requests_and_both_token_directions() -> None:
    assert GLOBAL_QUOTA_IDS == {
        Kind.REQUESTS: "GlobalOnlinePredictionRequestsPerMinutePerProjectPerBaseModel",
        Kind.INPUT_TOKENS: "GlobalOnlinePredictionInputTokensPerMinutePerBaseModel",
        Kind.OUTPUT_TOKENS: "GlobalOnlinePredictionOutputTokensPerMinutePerBaseModel",
    }
