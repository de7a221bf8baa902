"""Keyless access for the relay: Workload Identity Federation from its AWS role (and, optionally,
from a CI system's OIDC tokens) to the invoker service account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.config import FederationConfig

# STS session ARNs look like arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION. This keeps
# arn:aws:sts::ACCOUNT:assumed-role/ROLE, the same value for every session of the role.
NORMALISED_AWS_ROLE = (
    "assertion.arn.contains('assumed-role')"
    " ? assertion.arn.extract('{account_arn}assumed-role/')"
    " + 'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/')"
    " : assertion.arn"
)

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
# Not secrets (S105): a token *type* URN and the public STS endpoint.
AWS_SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"  # noqa: S105
STS_TOKEN_URL = "https://sts.googleapis.com/v1/token"  # noqa: S105
AWS_REGIONAL_VERIFICATION_URL = (
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
)


def aws_credential_config(provider_name: str, service_account_email: str) -> dict[str, Any]:
    """The `external_account` credential configuration google-auth reads (what
    `gcloud iam workload-identity-pools create-cred-config --aws` writes).

    It holds no secret. Inside Lambda, google-auth signs a GetCallerIdentity request with the
    function's own credentials and region from the environment (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION), so no EC2 metadata URLs are needed.
    """
    return {
        "type": "external_account",
        "audience": f"//iam.googleapis.com/{provider_name}",
        "subject_token_type": AWS_SUBJECT_TOKEN_TYPE,
        "token_url": STS_TOKEN_URL,
        "service_account_impersonation_url": (
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
            f"{service_account_email}:generateAccessToken"
        ),
        "credential_source": {
            "environment_id": "aws1",
            "regional_cred_verification_url": AWS_REGIONAL_VERIFICATION_URL,
        },
    }


def role_condition(assumed_role_arns: tuple[str, ...]) -> str:
    """The provider's CEL condition: the session's normalised role is one of these."""
    return f"attribute.aws_role in [{', '.join(_cel_string(a) for a in assumed_role_arns)}]"


def _cel_string(value: str) -> str:
    # Config validation rejects quotes in the values that reach CEL; this is a second guard.
    if "'" in value or "\\" in value:
        raise ValueError(f"cannot quote {value!r} in a CEL expression")
    return f"'{value}'"


@dataclass(frozen=True)
class RelayFederationArgs:
    project: str
    prefix: str
    federation: FederationConfig
    service_account_name: pulumi.Input[str]
    service_account_email: pulumi.Input[str]


class RelayFederation(pulumi.ComponentResource):
    """A workload identity pool with an AWS provider that admits only the relays' roles (one
    attribute condition listing them), and `roles/iam.workloadIdentityUser` on the invoker for
    exactly those roles (one member each).

    `credential_config` is the JSON the relay gives google-auth; it contains no secret.
    """

    pool: gcp.iam.WorkloadIdentityPool
    aws_provider: gcp.iam.WorkloadIdentityPoolProvider
    aws_bindings: list[gcp.serviceaccount.IAMMember]
    ci_provider: gcp.iam.WorkloadIdentityPoolProvider | None
    ci_binding: gcp.serviceaccount.IAMMember | None
    relay_principals: list[pulumi.Output[str]]
    credential_config: pulumi.Output[str]

    def __init__(
        self, name: str, args: RelayFederationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:RelayFederation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        fed = args.federation
        self.pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=args.project,
            workload_identity_pool_id=f"{args.prefix}-relay",
            display_name="Claude relay",
            description="Callers of Claude on Vertex AI that hold no Google key.",
            opts=child,
        )
        self.aws_provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-aws",
            project=args.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=f"{args.prefix}-aws-relay",
            display_name="Relay on AWS",
            description=(
                f"Admits only sessions of the relay roles of AWS account {fed.aws_account_id}."
            ),
            aws={"account_id": fed.aws_account_id},
            attribute_mapping={
                # The session ARN would exceed the 127-byte subject limit for Lambda sessions.
                "google.subject": NORMALISED_AWS_ROLE,
                "attribute.aws_role": NORMALISED_AWS_ROLE,
                "attribute.aws_account": "assertion.account",
            },
            attribute_condition=role_condition(fed.assumed_role_arns),
            opts=child,
        )
        self.relay_principals = []
        self.aws_bindings = []
        for i, (role, assumed) in enumerate(
            zip(fed.relay_role_names, fed.assumed_role_arns, strict=True)
        ):
            principal = pulumi.Output.concat(
                "principalSet://iam.googleapis.com/",
                self.pool.name,
                "/attribute.aws_role/",
                assumed,
            )
            # The first keeps the name a single-role stack gave its binding: no replacement.
            aliases = [pulumi.Alias(name=f"{name}-aws-user")] if i == 0 else None
            binding = gcp.serviceaccount.IAMMember(
                f"{name}-aws-user-{role}",
                service_account_id=args.service_account_name,
                role=WORKLOAD_IDENTITY_USER,
                member=principal,
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
            )
            self.relay_principals.append(principal)
            self.aws_bindings.append(binding)
        self.ci_provider = None
        self.ci_binding = None
        if fed.ci_oidc is not None:
            ci = fed.ci_oidc
            self.ci_provider = gcp.iam.WorkloadIdentityPoolProvider(
                f"{name}-ci",
                project=args.project,
                workload_identity_pool_id=self.pool.workload_identity_pool_id,
                workload_identity_pool_provider_id=f"{args.prefix}-ci",
                display_name="CI (OIDC)",
                description=f"Admits only tokens whose subject is {ci.subject}.",
                oidc={
                    "issuer_uri": ci.issuer_uri,
                    "allowed_audiences": list(ci.allowed_audiences) or None,
                },
                attribute_mapping={"google.subject": "assertion.sub"},
                attribute_condition=f"assertion.sub == {_cel_string(ci.subject)}",
                opts=child,
            )
            self.ci_binding = gcp.serviceaccount.IAMMember(
                f"{name}-ci-user",
                service_account_id=args.service_account_name,
                role=WORKLOAD_IDENTITY_USER,
                member=pulumi.Output.concat(
                    "principal://iam.googleapis.com/", self.pool.name, "/subject/", ci.subject
                ),
                opts=child,
            )
        self.credential_config = pulumi.Output.all(
            self.aws_provider.name, args.service_account_email
        ).apply(lambda v: json.dumps(aws_credential_config(v[0], v[1]), indent=2))
        self.register_outputs({"pool": self.pool.name, "credential_config": self.credential_config})
