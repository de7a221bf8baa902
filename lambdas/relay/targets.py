"""Which Bedrock model id to invoke for a catalog model, a Bedrock region and a routing choice.

The relay uses this to fill `modelId`; the CDK stacks use the same answer to grant IAM on exactly
the ARNs the relay will call (the profile ARN and the foundation model in every destination).
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.catalog import Geography, InferenceProfile, Lifecycle, Model, Routing

# Which geographic profile a region belongs to, by its prefix. jp/au profiles exist for some
# models only; where a model has one for the region, it is preferred to the wider apac profile.
_GEOGRAPHIES_BY_PREFIX: tuple[tuple[str, tuple[Geography, ...]], ...] = (
    ("us-gov-", ()),
    ("us-", (Geography.US,)),
    ("ca-", (Geography.US,)),
    ("eu-", (Geography.EU,)),
    ("ap-northeast-1", (Geography.JP, Geography.APAC)),
    ("ap-northeast-3", (Geography.JP, Geography.APAC)),
    ("ap-southeast-2", (Geography.AU, Geography.APAC)),
    ("ap-southeast-4", (Geography.AU, Geography.APAC)),
    ("ap-southeast-6", (Geography.AU, Geography.APAC)),
    ("ap-", (Geography.APAC,)),
)


class NoRouteError(LookupError):
    """The model cannot be invoked from that Bedrock region with that routing."""


@dataclass(frozen=True)
class BedrockTarget:
    """What the relay invokes: a model id (profile or foundation model) in a Bedrock region."""

    model: Model
    region: str
    routing: Routing
    model_id: str
    profile: InferenceProfile | None

    @property
    def is_profile(self) -> bool:
        return self.profile is not None

    @property
    def premium(self) -> bool:
        """Geographic and in-region endpoints carry the model's regional premium."""
        return self.profile is None or self.profile.geography is not Geography.GLOBAL


def geographies_for(region: str) -> tuple[Geography, ...]:
    """The geographic profile scopes a region can call, most specific first."""
    for prefix, geographies in _GEOGRAPHIES_BY_PREFIX:
        if region.startswith(prefix):
            return geographies
    return ()


def bedrock_target(model: Model, region: str, routing: Routing) -> BedrockTarget:
    """The Bedrock id to invoke `model` from `region`, or NoRouteError saying why not."""
    if model.lifecycle is Lifecycle.RETIRED:
        ended = f" on {model.retirement.isoformat()}" if model.retirement else ""
        raise NoRouteError(
            f"{model.name} reached end of life on Bedrock{ended}; choose another model"
        )
    if routing is Routing.IN_REGION:
        if region in model.bedrock_in_region:
            return BedrockTarget(model, region, routing, model.bedrock_id, None)
        raise NoRouteError(
            f"{model.name} is not offered in-region in {region}; use routing 'global' or "
            f"'geographic', or one of: {', '.join(model.bedrock_in_region) or 'no region'}"
        )
    # GLOBAL is a preference: a model without a global profile (Opus 4.1) falls back to the
    # region's geographic profile rather than being unavailable.
    geographic = geographies_for(region)
    candidates = (Geography.GLOBAL, *geographic) if routing is Routing.GLOBAL else geographic
    for geography in candidates:
        profile = model.profile_for_region(region, geography)
        if profile is not None:
            return BedrockTarget(
                model, region, routing, profile.profile_id(model.bedrock_id), profile
            )
    # Name every region the routing works from for this model, not only those of `region`'s
    # geography: an operator choosing a Bedrock region needs the whole list.
    offered = sorted(
        {
            r
            for p in model.inference_profiles
            if routing is Routing.GLOBAL or p.geography is not Geography.GLOBAL
            for r in p.source_regions
        }
    )
    raise NoRouteError(
        f"{model.name} has no {routing.value} inference profile callable from {region}; "
        f"regions that can: {', '.join(offered) or 'none'}"
    )


def routes_from(model: Model, region: str) -> tuple[BedrockTarget, ...]:
    """Every way `model` can be invoked from `region`, in the order of `Routing`."""
    targets = []
    for routing in Routing:
        try:
            targets.append(bedrock_target(model, region, routing))
        except NoRouteError:
            continue
    return tuple(targets)
