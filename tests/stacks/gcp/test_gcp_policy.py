"""The policy pack: each validate function on constructed args, then the program against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from gcp_program import Deployment, base_config, run_program
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.gcp.policies import (
    POLICIES,
    budget_present,
    is_authoritative_iam,
    no_authoritative_iam,
    no_primitive_roles,
    no_service_account_keys,
)

OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


def _args(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, props, f"urn:{type_}::r", "r", OPTS, None, config)


def _resource(type_: str, props: Mapping[str, Any], name: str = "r") -> PolicyResource:
    return PolicyResource(type_, props, f"urn:{type_}::{name}", name, OPTS, None, None, [], {})


def _violations(validate: Any, args: Any) -> list[str]:
    found: list[str] = []
    validate(args, lambda message, urn=None: found.append(message))
    return found


def test_service_account_key_is_a_violation() -> None:
    args = _args("gcp:serviceaccount/key:Key", {"serviceAccountId": "sa"})
    assert len(_violations(no_service_account_keys, args)) == 1


def test_service_account_key_passes_when_config_allows() -> None:
    args = _args("gcp:serviceaccount/key:Key", {}, {"allowServiceAccountKeys": True})
    assert _violations(no_service_account_keys, args) == []


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_primitive_role_member_is_a_violation(role: str) -> None:
    args = _args("gcp:projects/iAMMember:IAMMember", {"role": role, "member": "user:a@b.c"})
    assert len(_violations(no_primitive_roles, args)) == 1


def test_primitive_role_inside_policy_data_is_a_violation() -> None:
    data = json.dumps({"bindings": [{"role": "roles/editor", "members": ["user:a@b.c"]}]})
    args = _args("gcp:projects/iAMPolicy:IAMPolicy", {"policyData": data})
    assert len(_violations(no_primitive_roles, args)) == 1


def test_custom_role_member_is_not_a_violation() -> None:
    args = _args("gcp:projects/iAMMember:IAMMember", {"role": "projects/p/roles/x"})
    assert _violations(no_primitive_roles, args) == []


@pytest.mark.parametrize(
    "type_",
    [
        "gcp:projects/iAMPolicy:IAMPolicy",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:serviceaccount/iAMPolicy:IAMPolicy",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    ],
)
def test_authoritative_iam_is_a_violation(type_: str) -> None:
    assert len(_violations(no_authoritative_iam, _args(type_, {}))) == 1


def test_iam_member_is_not_authoritative() -> None:
    assert not is_authoritative_iam("gcp:serviceaccount/iAMMember:IAMMember")


def test_stack_without_budget_is_a_violation() -> None:
    args = StackValidationArgs([_resource("gcp:projects/service:Service", {})])
    assert len(_violations(budget_present, args)) == 1


def test_budget_without_thresholds_is_a_violation() -> None:
    args = StackValidationArgs([_resource("gcp:billing/budget:Budget", {"thresholdRules": []})])
    assert len(_violations(budget_present, args)) == 1


def test_budget_with_thresholds_passes() -> None:
    budget = _resource("gcp:billing/budget:Budget", {"thresholdRules": [{"thresholdPercent": 1}]})
    assert _violations(budget_present, StackValidationArgs([budget])) == []


def _pack_violations(deployment: Deployment, config: Mapping[str, Any] | None = None) -> list[str]:
    """Every policy of the pack over what the program declared, as the engine would run them."""
    found: list[str] = []
    resources = [_resource(r.type, r.inputs, r.name) for r in deployment.resources]
    for policy in POLICIES:

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            found.append(f"{name}: {message}")

        if isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources), report)
        else:
            for r in deployment.resources:
                policy.validate(_args(r.type, r.inputs, config), report)
    return found


def test_program_passes_the_policy_pack(default_deployment: Deployment) -> None:
    assert _pack_violations(default_deployment) == []


def test_program_with_a_key_fails_the_pack_unless_allowed() -> None:
    with_key = run_program(base_config() | {"createServiceAccountKey": True})
    assert [v for v in _pack_violations(with_key) if v.startswith("no-service-account-keys")]
    assert _pack_violations(with_key, {"allowServiceAccountKeys": True}) == []
