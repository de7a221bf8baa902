"""The invoker: a service account, a one-permission custom role, bound as a member; no key."""

from __future__ import annotations

import pytest
from gcp_program import PROJECT_ID, Deployment, base_config, run_program

from stacks.gcp.invoker import INVOKE_PERMISSIONS

ACCOUNT = "gcp:serviceaccount/account:Account"
ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
KEY = "gcp:serviceaccount/key:Key"


@pytest.fixture(scope="module")
def with_key() -> Deployment:
    return run_program(base_config() | {"createServiceAccountKey": True})


def test_custom_role_holds_only_the_predict_permission(default_deployment: Deployment) -> None:
    (role,) = default_deployment.of_type(ROLE)
    assert role.inputs["permissions"] == ["aiplatform.endpoints.predict"]


def test_program_uses_the_invoke_permissions_constant(default_deployment: Deployment) -> None:
    (role,) = default_deployment.of_type(ROLE)
    assert tuple(role.inputs["permissions"]) == INVOKE_PERMISSIONS


def test_service_account_is_created_in_the_project(default_deployment: Deployment) -> None:
    (account,) = default_deployment.of_type(ACCOUNT)
    assert account.inputs["project"] == PROJECT_ID
    assert account.inputs["accountId"] == "claude-vertex-invoker"


def test_service_account_is_bound_to_the_custom_role_as_a_member(
    default_deployment: Deployment,
) -> None:
    (member,) = default_deployment.of_type(PROJECT_MEMBER)
    (role,) = default_deployment.of_type(ROLE)
    assert member.inputs["role"] == f"projects/{PROJECT_ID}/roles/{role.inputs['roleId']}"
    assert member.inputs["member"] == (
        f"serviceAccount:claude-vertex-invoker@{PROJECT_ID}.iam.gserviceaccount.com"
    )


def test_broad_vertex_role_is_not_granted(default_deployment: Deployment) -> None:
    roles = {r.inputs.get("role") for r in default_deployment.resources}
    assert "roles/aiplatform.user" not in roles


def test_no_key_is_created_by_default(default_deployment: Deployment) -> None:
    assert default_deployment.of_type(KEY) == []
    assert "serviceAccountKey" not in default_deployment.outputs


def test_key_is_created_when_config_asks(with_key: Deployment) -> None:
    (key,) = with_key.of_type(KEY)
    assert key.inputs["serviceAccountId"].endswith(
        "claude-vertex-invoker@acme-claude-dev.iam.gserviceaccount.com"
    )


def test_key_is_exported_as_a_secret(with_key: Deployment) -> None:
    assert with_key.secret_outputs == {"serviceAccountKey"}


def test_prefix_starts_the_resource_ids() -> None:
    deployment = run_program(base_config() | {"prefix": "acme"})
    (account,) = deployment.of_type(ACCOUNT)
    (role,) = deployment.of_type(ROLE)
    assert account.inputs["accountId"] == "acme-vertex-invoker"
    assert role.inputs["roleId"] == "acme_vertex_invoker"
