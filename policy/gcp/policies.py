"""The policies of the GCP pack, as plain validate functions that tests call directly.

Property names are the Pulumi engine's (camelCase), as policies see them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "claude-relay-kit-gcp"

SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
BUDGET = "gcp:billing/budget:Budget"
PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
ALLOW_KEYS = "allowServiceAccountKeys"


def is_authoritative_iam(resource_type: str) -> bool:
    """`*IAMPolicy` and `*IAMBinding` resources (any service) replace whoever else holds access;
    `*IAMMember` adds one member and is the only kind this kit uses."""
    kind = resource_type.rsplit(":", 1)[-1].lower()
    return kind.endswith(("iampolicy", "iambinding"))


def _roles_in(props: Mapping[str, Any]) -> Iterable[str]:
    role = props.get("role")
    if isinstance(role, str):
        yield role
    policy_data = props.get("policyData")
    if isinstance(policy_data, str):
        try:
            bindings = json.loads(policy_data).get("bindings", [])
        except (ValueError, AttributeError):
            return
        for binding in bindings if isinstance(bindings, list) else []:
            if isinstance(binding, dict) and isinstance(binding.get("role"), str):
                yield binding["role"]


def no_service_account_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SERVICE_ACCOUNT_KEY:
        return
    if args.get_config().get(ALLOW_KEYS) is True:
        return
    report(
        "Service-account keys are long-lived secrets; federate instead (Workload Identity). "
        f"If a key is unavoidable, set the policy config `{ALLOW_KEYS}: true` for this stack.",
        None,
    )


def no_primitive_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for role in _roles_in(args.props):
        if role in PRIMITIVE_ROLES:
            report(f"{role} is a primitive role; grant a predefined or custom role instead.", None)


def no_authoritative_iam(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_authoritative_iam(args.resource_type):
        report(
            f"{args.resource_type} is authoritative and removes access granted elsewhere; "
            "use the matching IAMMember resource.",
            None,
        )


def budget_present(args: StackValidationArgs, report: ReportViolation) -> None:
    budgets = [r for r in args.resources if r.resource_type == BUDGET]
    if not budgets:
        report("The stack has no billing budget (gcp:billing/Budget); add one.", None)
    for budget in budgets:
        if not budget.props.get("thresholdRules"):
            report("A billing budget without threshold rules never notifies anyone.", budget.urn)


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    ResourceValidationPolicy(
        name="no-service-account-keys",
        description="No service-account keys unless the stack's policy config allows them.",
        validate=no_service_account_keys,
        config_schema=PolicyConfigSchema(
            properties={ALLOW_KEYS: {"type": "boolean", "default": False}}
        ),
    ),
    ResourceValidationPolicy(
        name="no-primitive-roles",
        description="No owner, editor or viewer grants.",
        validate=no_primitive_roles,
    ),
    ResourceValidationPolicy(
        name="no-authoritative-iam",
        description="IAM grants are members, never authoritative policies or bindings.",
        validate=no_authoritative_iam,
    ),
    StackValidationPolicy(
        name="budget-present",
        description="Every stack has a billing budget with thresholds.",
        validate=budget_present,
    ),
]


def build_pack() -> PolicyPack:
    """The pack; constructing it starts the policy server, so only `__main__` calls this."""
    return PolicyPack(
        name=PACK_NAME,
        policies=list(POLICIES),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
