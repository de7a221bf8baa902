"""Bedrock access for one account and Bedrock region: model access, invocation logging, the PII
guardrail, application inference profiles and a managed policy to invoke exactly those models."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.aws.config import RelayKitConfig
from stacks.aws.constructs.guardrail import PiiGuardrail, PiiGuardrailProps
from stacks.aws.constructs.inference_profiles import ApplicationProfiles, ApplicationProfilesProps
from stacks.aws.constructs.invocation_logging import (
    BedrockInvocationLogging,
    InvocationLoggingProps,
)
from stacks.aws.constructs.invoke_policy import InvokeModelsPolicy, InvokeModelsPolicyProps
from stacks.aws.constructs.model_access import BedrockModelAccess, ModelAccessProps
from stacks.aws.constructs.relay import GuardrailRef


class BedrockAccessStack(Stack):
    """Composes the Bedrock-side constructs for `bedrock_region`; `guardrail_ref` for relays."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayKitConfig,
        bedrock_region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=(
                f"Claude on Amazon Bedrock in {bedrock_region}: model access, logging, guardrail"
            ),
            **kwargs,
        )
        settings = config.settings
        account = config.account or self.account
        targets = config.targets_in(bedrock_region)
        models = tuple(t.model for t in targets)
        self.model_access: BedrockModelAccess | None = None
        if settings.model_access.enabled:
            use_case = settings.model_access.use_case.model_dump(by_alias=True)
            self.model_access = BedrockModelAccess(
                self,
                "ModelAccess",
                ModelAccessProps(
                    models=models,
                    wait_seconds=settings.model_access.wait_seconds,
                    use_case=tuple(sorted(use_case.items())) if use_case["companyName"] else (),
                ),
            )
        self.invocation_logging: BedrockInvocationLogging | None = None
        if settings.invocation_logging.enabled:
            self.invocation_logging = BedrockInvocationLogging(
                self,
                "InvocationLogging",
                InvocationLoggingProps(
                    retention_days=settings.invocation_logging.retention_days,
                    take_over=settings.invocation_logging.take_over,
                    customer_managed_key=settings.encryption.customer_managed_keys,
                ),
            )
        self.guardrail: PiiGuardrail | None = None
        if settings.guardrail.enabled:
            self.guardrail = PiiGuardrail(
                self, "Guardrail", PiiGuardrailProps(name=f"{settings.prefix}-pii")
            )
            CfnOutput(self, "GuardrailId", value=self.guardrail.guardrail_id)
            CfnOutput(self, "GuardrailVersion", value=self.guardrail.version_number)
        self.profiles: ApplicationProfiles | None = None
        profiles = settings.application_profiles
        if profiles.enabled and bedrock_region not in profiles.unavailable_regions:
            self.profiles = ApplicationProfiles(
                self,
                "ApplicationProfiles",
                ApplicationProfilesProps(
                    targets=targets,
                    name_prefix=settings.prefix,
                    tags=(("relaykit:deployment", settings.prefix),),
                ),
            )
        profile_arns = {
            alias: p.inference_profile_arn
            for alias, p in (self.profiles.profiles.items() if self.profiles else ())
        }
        self.invoke_policy = InvokeModelsPolicy(
            self,
            "InvokeModels",
            InvokeModelsPolicyProps(
                targets=targets,
                account=account,
                application_profiles=tuple(profile_arns.items()),
            ),
        )
        if self.model_access is not None and self.profiles is not None:
            # A profile is of no use before the account may invoke its model.
            self.profiles.node.add_dependency(self.model_access)
        CfnOutput(
            self,
            "InvokeModelsPolicyArn",
            value=self.invoke_policy.policy.managed_policy_arn,
            description="Attach to an application role to invoke exactly these models",
        )
        for alias, arn in profile_arns.items():
            CfnOutput(
                self,
                f"Profile{alias.replace('-', '')}",
                value=arn,
                description=f"{alias} application inference profile",
            )

    @property
    def guardrail_ref(self) -> GuardrailRef | None:
        if self.guardrail is None:
            return None
        return GuardrailRef(
            self.guardrail.guardrail_id, self.guardrail.version_number, self.guardrail.guardrail_arn
        )
