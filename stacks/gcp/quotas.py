"""Cloud Quotas preferences for the Claude base models: requests, input and output tokens per
minute, on the global endpoint and in each regional or multi-regional location."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_gcp as gcp

from relay.catalog import Model
from stacks.gcp.config import QuotaConfig

SERVICE = "aiplatform.googleapis.com"


class Kind(StrEnum):
    REQUESTS = "requests"
    INPUT_TOKENS = "input-tokens"
    OUTPUT_TOKENS = "output-tokens"


# Quota ids of the Vertex AI service, as Cloud Quotas names them (`gcloud beta quotas info list
# --service=aiplatform.googleapis.com`). Claude models launched before 2026-05-26 have per-model
# quotas keyed by the `base_model` dimension; regional ones also carry `region`.
GLOBAL_QUOTA_IDS: dict[Kind, str] = {
    Kind.REQUESTS: "GlobalOnlinePredictionRequestsPerMinutePerProjectPerBaseModel",
    Kind.INPUT_TOKENS: "GlobalOnlinePredictionInputTokensPerMinutePerBaseModel",
    Kind.OUTPUT_TOKENS: "GlobalOnlinePredictionOutputTokensPerMinutePerBaseModel",
}
REGIONAL_QUOTA_IDS: dict[Kind, str] = {
    Kind.REQUESTS: "OnlinePredictionRequestsPerMinutePerProjectPerRegionPerBaseModel",
    Kind.INPUT_TOKENS: "OnlinePredictionInputTokensPerMinutePerRegionPerBaseModel",
    Kind.OUTPUT_TOKENS: "OnlinePredictionOutputTokensPerMinutePerRegionPerBaseModel",
}
# The `us` and `eu` multi-region endpoints have quotas of their own, named by location.
MULTI_REGION_QUOTA_IDS: dict[str, dict[Kind, str]] = {
    location: {
        Kind.REQUESTS: f"{prefix}OnlinePredictionRequestsPerMinPerProjectPerBaseModel",
        Kind.INPUT_TOKENS: f"{prefix}OnlinePredictionInputTokensPerMinutePerBaseModel",
        Kind.OUTPUT_TOKENS: f"{prefix}OnlinePredictionOutputTokensPerMinutePerBaseModel",
    }
    for location, prefix in (("us", "Us"), ("eu", "Eu"))
}

_PREFERENCE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class QuotaTarget:
    """One preference: a quota id and its dimensions, with the value asked for."""

    model: Model
    location: str
    kind: Kind
    quota_id: str
    dimensions: dict[str, str]
    preferred_value: int


def quota_targets(
    models: Sequence[Model], locations: Sequence[str], quota: QuotaConfig
) -> list[QuotaTarget]:
    """Every (model, location, kind) preference the stack asks for; pure, for tests and docs."""
    targets: list[QuotaTarget] = []
    for model in models:
        base_model = model.vertex_base_model
        if base_model is None:
            raise ValueError(f"{model.name} has no Vertex AI base model")
        values = quota.values_for(model)
        wanted = {
            Kind.REQUESTS: values.requests_per_minute,
            Kind.INPUT_TOKENS: values.input_tokens_per_minute,
            Kind.OUTPUT_TOKENS: values.output_tokens_per_minute,
        }
        for location in locations:
            for kind, value in wanted.items():
                if location == "global":
                    quota_id, dims = GLOBAL_QUOTA_IDS[kind], {"base_model": base_model}
                elif location in MULTI_REGION_QUOTA_IDS:
                    quota_id = MULTI_REGION_QUOTA_IDS[location][kind]
                    dims = {"base_model": base_model}
                else:
                    quota_id = REGIONAL_QUOTA_IDS[kind]
                    dims = {"region": location, "base_model": base_model}
                targets.append(QuotaTarget(model, location, kind, quota_id, dims, value))
    return targets


def preference_id(prefix: str, target: QuotaTarget) -> str:
    """A readable preference id, e.g. `claude-haiku-4-5-global-requests`."""
    base = (target.model.vertex_base_model or "").removeprefix("anthropic-claude-")
    pid = f"{prefix}-{base}-{target.location}-{target.kind.value}"
    if not _PREFERENCE_ID.match(pid):
        raise ValueError(f"quota preference id {pid!r} is invalid; choose a shorter prefix")
    return pid


@dataclass(frozen=True)
class ClaudeQuotasArgs:
    project: str
    prefix: str
    models: Sequence[Model]
    locations: Sequence[str]
    quota: QuotaConfig


class ClaudeQuotas(pulumi.ComponentResource):
    """One `SQuotaPreference` per model, location and kind. New projects often start at 0 for
    Claude; a preference is a request that Google grants, reduces or denies (see `granted_value`).
    Deleting a preference does not lower the quota again."""

    preferences: dict[tuple[str, str, Kind], gcp.cloudquota.SQuotaPreference]

    def __init__(
        self, name: str, args: ClaudeQuotasArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:ClaudeQuotas", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.preferences = {}
        for target in quota_targets(args.models, args.locations, args.quota):
            key = (target.model.alias, target.location, target.kind)
            self.preferences[key] = gcp.cloudquota.SQuotaPreference(
                f"{name}-{target.model.alias}-{target.location}-{target.kind.value}",
                parent=f"projects/{args.project}",
                name=preference_id(args.prefix, target),
                service=SERVICE,
                quota_id=target.quota_id,
                dimensions=target.dimensions,
                quota_config={"preferred_value": str(target.preferred_value)},
                contact_email=args.quota.contact_email,
                justification=args.quota.justification,
                opts=child,
            )
        self.register_outputs({"count": len(self.preferences)})
