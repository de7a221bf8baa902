"""The exact IAM statements that let a principal invoke the configured models and nothing else.

Computed from the same `BedrockTarget` the relay uses to pick the id it invokes, so the policy
and the relay agree:

- in-region: the foundation model ARN in the Bedrock region;
- geographic profile: the profile ARN, plus the foundation model in every destination region of
  the profile, conditioned on being reached through that profile;
- global profile: the profile ARN, the source-region foundation model and the region-less
  `arn:aws:bedrock:::foundation-model/<id>`, both conditioned on the profile ARN and on
  `aws:RequestedRegion` (the source region, and `unspecified` for the global one), as AWS
  documents for global cross-Region inference.

Why not the Bedrock alpha module's `grant_invoke`: `CrossRegionInferenceProfile.grant_invoke`
grants `bedrock:InvokeModel*` (a wildcard action) and `bedrock:GetFoundationModel` on
`arn:aws:bedrock:*::foundation-model/<id>` (every region, no condition) and builds the profile ARN
in the stack's own region, which is wrong for a relay whose Bedrock region differs (Hong Kong).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relay.catalog import Geography, Model
from relay.targets import BedrockTarget

if TYPE_CHECKING:
    # Only `to_iam` needs CDK: the CLI and the config read the statements without starting
    # jsii's Node process.
    from aws_cdk import aws_iam as iam

INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
COUNT_TOKENS_ACTION = "bedrock:CountTokens"


class IncompleteCatalogError(ValueError):
    """The catalog does not list what the policy needs (e.g. a profile's destination regions)."""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def foundation_model_arn(model: Model, region: str) -> str:
    """`region` may be empty: the region-less ARN global profiles route through."""
    partition = partition_of(region or "us-east-1")
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model.bedrock_id}"


def profile_arn(target: BedrockTarget, account: str) -> str:
    return (
        f"arn:{partition_of(target.region)}:bedrock:{target.region}:{account}:"
        f"inference-profile/{target.model_id}"
    )


def _sid(model: Model, suffix: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", model.alias)
    return "".join(w[:1].upper() + w[1:] for w in words if w) + suffix


@dataclass(frozen=True)
class InvokeStatement:
    """One statement, as plain data (tests compare these; `to_iam` renders them)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # (operator, ((key, values), ...)), values OR-ed as IAM does with a list.
    conditions: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = ()

    def to_iam(self) -> iam.PolicyStatement:
        from aws_cdk import aws_iam as iam

        conditions = {
            op: {key: values[0] if len(values) == 1 else list(values) for key, values in pairs}
            for op, pairs in self.conditions
        }
        return iam.PolicyStatement(
            sid=self.sid,
            actions=list(self.actions),
            resources=list(self.resources),
            conditions=conditions or None,
        )


def invoke_statements(
    targets: Iterable[BedrockTarget],
    account: str,
    *,
    count_tokens: bool = True,
    application_profiles: Mapping[str, str] | None = None,
) -> tuple[InvokeStatement, ...]:
    """The statements for invoking every target from its Bedrock region, and nothing else.

    `application_profiles` maps a model alias to an application inference profile ARN that
    copies the target's profile: calls through it reach the foundation models too.
    """
    statements: list[InvokeStatement] = []
    for target in targets:
        extra = (application_profiles or {}).get(target.model.alias)
        statements.extend(_for_target(target, account, (extra,) if extra else ()))
        if count_tokens and target.model.bedrock_count_tokens:
            statements.append(
                InvokeStatement(
                    _sid(target.model, "CountTokens"),
                    (COUNT_TOKENS_ACTION,),
                    (foundation_model_arn(target.model, target.region),),
                )
            )
    return tuple(statements)


def _for_target(
    target: BedrockTarget, account: str, extra_profiles: tuple[str, ...]
) -> list[InvokeStatement]:
    model = target.model
    if target.profile is None:
        return [
            InvokeStatement(
                _sid(model, "InRegion"),
                INVOKE_ACTIONS,
                (foundation_model_arn(model, target.region),),
            )
        ]
    profile = profile_arn(target, account)
    via_profile = ("bedrock:InferenceProfileArn", (profile, *extra_profiles))
    statements = [InvokeStatement(_sid(model, "Profile"), INVOKE_ACTIONS, (profile,))]
    if target.profile.geography is Geography.GLOBAL:
        statements += [
            InvokeStatement(
                _sid(model, "SourceRegionModel"),
                INVOKE_ACTIONS,
                (foundation_model_arn(model, target.region),),
                (("StringEquals", (("aws:RequestedRegion", (target.region,)), via_profile)),),
            ),
            InvokeStatement(
                _sid(model, "GlobalModel"),
                INVOKE_ACTIONS,
                (foundation_model_arn(model, ""),),
                (("StringEquals", (("aws:RequestedRegion", ("unspecified",)), via_profile)),),
            ),
        ]
        return statements
    destinations = target.profile.destination_regions
    if not destinations:
        raise IncompleteCatalogError(
            f"the catalog lists no destination regions for {target.model_id}; IAM needs the "
            "foundation model in each (fill InferenceProfile.destination_regions)"
        )
    statements.append(
        InvokeStatement(
            _sid(model, "DestinationModels"),
            INVOKE_ACTIONS,
            tuple(foundation_model_arn(model, r) for r in sorted(set(destinations))),
            (("StringEquals", (via_profile,)),),
        )
    )
    return statements
