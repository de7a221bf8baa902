"""Keyless federation: only the relay's role is admitted; google-auth reads the config."""

from __future__ import annotations

import json
from urllib.parse import unquote

import google.auth.aws
import pytest
from gcp_program import PROJECT_NUMBER, RELAY_ACCOUNT, Deployment, base_config, run_program

from stacks.gcp.federation import NORMALISED_AWS_ROLE, aws_credential_config

PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
ASSUMED_ROLE = f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/claude-relay-fn-role"
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/claude-relay"
CI_SUBJECT = "repo:acme/claude-relay:ref:refs/heads/main"


@pytest.fixture(scope="module")
def with_ci() -> Deployment:
    config = base_config()
    config["federation"]["ciOidc"] = {
        "issuerUri": "https://token.actions.githubusercontent.com",
        "subject": CI_SUBJECT,
    }
    return run_program(config)


def test_aws_provider_trusts_the_relay_account(default_deployment: Deployment) -> None:
    (provider,) = default_deployment.of_type(PROVIDER)
    assert provider.inputs["aws"] == {"accountId": RELAY_ACCOUNT}


def test_condition_admits_only_the_relay_role(default_deployment: Deployment) -> None:
    (provider,) = default_deployment.of_type(PROVIDER)
    assert provider.inputs["attributeCondition"] == f"attribute.aws_role in ['{ASSUMED_ROLE}']"


TWO_ROLES = ("ClaudeRelay-us-relay-us-east-1", "ClaudeRelay-hk-relay-ap-east-1")


@pytest.fixture(scope="module")
def two_relays() -> Deployment:
    config = base_config()
    config["federation"] = {
        "relayRoleArns": [f"arn:aws:iam::{RELAY_ACCOUNT}:role/{name}" for name in TWO_ROLES]
    }
    return run_program(config)


def _admits(condition: str, aws_role: str) -> bool:
    """Evaluates the provider's `attribute.aws_role in [...]` condition for one session role."""
    prefix = "attribute.aws_role in ["
    assert condition.startswith(prefix)
    assert condition.endswith("]")
    listed = [item.strip().strip("'") for item in condition[len(prefix) : -1].split(",")]
    return aws_role in listed


def test_one_condition_admits_exactly_both_relay_roles(two_relays: Deployment) -> None:
    (provider,) = two_relays.of_type(PROVIDER)
    condition = provider.inputs["attributeCondition"]
    roles = [f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/{name}" for name in TWO_ROLES]
    assert all(_admits(condition, role) for role in roles)
    third = f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/ClaudeRelay-eu-relay-eu-west-1"
    assert not _admits(condition, third)
    assert not _admits(condition, f"arn:aws:sts::111111111111:assumed-role/{TWO_ROLES[0]}")


def test_each_relay_role_may_impersonate_the_invoker(two_relays: Deployment) -> None:
    members = sorted(b.inputs["member"] for b in two_relays.of_type(SA_MEMBER))
    expected = sorted(
        f"principalSet://iam.googleapis.com/{POOL}/attribute.aws_role/"
        f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/{name}"
        for name in TWO_ROLES
    )
    assert members == expected
    assert sorted(two_relays.outputs["relayPrincipals"]) == expected


def test_subject_is_the_normalised_role_not_the_session(default_deployment: Deployment) -> None:
    (provider,) = default_deployment.of_type(PROVIDER)
    mapping = provider.inputs["attributeMapping"]
    assert mapping["google.subject"] == NORMALISED_AWS_ROLE
    assert mapping["attribute.aws_role"] == NORMALISED_AWS_ROLE


def test_normalised_subject_fits_the_127_byte_limit() -> None:
    longest_role = "r" * 64  # IAM role names are at most 64 characters
    assert len(f"arn:aws:sts::{RELAY_ACCOUNT}:assumed-role/{longest_role}".encode()) <= 127


def test_relay_role_may_impersonate_the_invoker(default_deployment: Deployment) -> None:
    (binding,) = default_deployment.of_type(SA_MEMBER)
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == (
        f"principalSet://iam.googleapis.com/{POOL}/attribute.aws_role/{ASSUMED_ROLE}"
    )


def test_binding_is_on_the_invoker_account(default_deployment: Deployment) -> None:
    (binding,) = default_deployment.of_type(SA_MEMBER)
    assert binding.inputs["serviceAccountId"].endswith(
        default_deployment.outputs["serviceAccountEmail"]
    )


def test_no_oidc_provider_without_ci_config(default_deployment: Deployment) -> None:
    assert [p for p in default_deployment.of_type(PROVIDER) if "oidc" in p.inputs] == []


def test_ci_provider_admits_only_the_configured_subject(with_ci: Deployment) -> None:
    ci = with_ci.named("federation-ci")
    assert ci.inputs["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert ci.inputs["attributeCondition"] == f"assertion.sub == '{CI_SUBJECT}'"


def test_ci_subject_may_impersonate_the_invoker(with_ci: Deployment) -> None:
    binding = with_ci.named("federation-ci-user")
    assert binding.inputs["member"] == f"principal://iam.googleapis.com/{POOL}/subject/{CI_SUBJECT}"


def test_credential_config_points_at_the_aws_provider(default_deployment: Deployment) -> None:
    config = json.loads(default_deployment.outputs["federationCredentialConfig"])
    assert config["audience"] == f"//iam.googleapis.com/{POOL}/providers/claude-aws-relay"
    assert (
        default_deployment.outputs["serviceAccountEmail"]
        in (config["service_account_impersonation_url"])
    )


def test_credential_config_is_not_a_secret(default_deployment: Deployment) -> None:
    assert "federationCredentialConfig" not in default_deployment.secret_outputs


def test_google_auth_signs_a_subject_token_from_lambda_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What Lambda provides; google-auth signs GetCallerIdentity locally, no network needed.
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    info = aws_credential_config(
        f"{POOL}/providers/claude-aws-relay", "sa@p.iam.gserviceaccount.com"
    )
    credentials = google.auth.aws.Credentials.from_info(info)
    token = json.loads(unquote(credentials.retrieve_subject_token(None)))
    assert (
        token["url"]
        == "https://sts.eu-west-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    )
    headers = {h["key"]: h["value"] for h in token["headers"]}
    assert headers["x-goog-cloud-target-resource"] == info["audience"]
