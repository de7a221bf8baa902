"""Application inference profiles: one per configured model, tagged for cost allocation.

Each copies the system-defined profile (or the foundation model, in-region) that the relay's
`BedrockTarget` names, so usage invoked through it is attributed by its tags in Cost Explorer.
The Bedrock alpha module builds the source ARNs here: this construct lives in the Bedrock
region's own stack, where its `Aws.REGION`-based ARNs are the right ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_bedrock_alpha as bedrock_alpha
from constructs import Construct

from relay.targets import BedrockTarget


@dataclass(frozen=True)
class ApplicationProfilesProps:
    targets: tuple[BedrockTarget, ...]
    name_prefix: str
    tags: tuple[tuple[str, str], ...] = ()


def model_source(target: BedrockTarget) -> bedrock_alpha.IBedrockInvokable:
    model = bedrock_alpha.BedrockFoundationModel(
        target.model.bedrock_id, supports_cross_region=target.profile is not None
    )
    if target.profile is None:
        return model
    return bedrock_alpha.CrossRegionInferenceProfile.from_config(
        geo_region=bedrock_alpha.CrossRegionInferenceProfileRegion[target.profile.geography.name],
        model=model,
    )


class ApplicationProfiles(Construct):
    """Provisions an `AWS::Bedrock::ApplicationInferenceProfile` per target; `profiles[alias]`."""

    def __init__(
        self, scope: Construct, construct_id: str, props: ApplicationProfilesProps
    ) -> None:
        super().__init__(scope, construct_id)
        self.profiles: dict[str, bedrock_alpha.ApplicationInferenceProfile] = {}
        for target in props.targets:
            alias = target.model.alias
            self.profiles[alias] = bedrock_alpha.ApplicationInferenceProfile(
                self,
                alias,
                application_inference_profile_name=f"{props.name_prefix}-{alias}",
                model_source=model_source(target),
                description=f"{alias} via {target.model_id} for cost allocation",
                tags={"relaykit:model": alias, **dict(props.tags)},
            )
