"""The model catalog: the one source of truth for Claude model ids, regions and prices.

The relay (it ships in the Lambda), the CDK stacks, the Pulumi program, the CLI and the tests all
read this module; nothing else spells a model id or a price. Plain frozen dataclasses keep the
import cheap on a Lambda cold start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

MILLION = Decimal(1_000_000)


class Lifecycle(StrEnum):
    ACTIVE = "active"
    LEGACY = "legacy"
    DEPRECATED = "deprecated"


class Geography(StrEnum):
    """The scopes of Bedrock cross-region inference profiles (the prefix of the profile id)."""

    GLOBAL = "global"
    US = "us"
    EU = "eu"
    APAC = "apac"
    JP = "jp"
    AU = "au"


class Routing(StrEnum):
    """How the relay picks the Bedrock model id it invokes.

    GLOBAL (the default) uses the global inference profile, the cheaper one. GEOGRAPHIC keeps data in
    the geography of the Bedrock region (us/eu/apac/jp/au profile). IN_REGION calls the foundation
    model in the Bedrock region itself, where the model is offered that way.
    """

    GLOBAL = "global"
    GEOGRAPHIC = "geographic"
    IN_REGION = "in-region"


@dataclass(frozen=True)
class Prices:
    """USD per million tokens on the global endpoint, with the page they were read from."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    source: str


@dataclass(frozen=True)
class InferenceProfile:
    """A system-defined Bedrock cross-region inference profile for one model.

    `source_regions` are the regions a caller may invoke the profile from; `destination_regions`
    the regions it may route a request to (the IAM policy must allow the foundation model in each).
    The global profile routes to any commercial region, so its destinations are not listed.
    """

    geography: Geography
    source_regions: tuple[str, ...]
    destination_regions: tuple[str, ...] = ()
    source: str = ""

    def profile_id(self, bedrock_model_id: str) -> str:
        return f"{self.geography.value}.{bedrock_model_id}"


@dataclass(frozen=True)
class Model:
    """One Claude model as the Anthropic API, Amazon Bedrock and Vertex AI name it."""

    name: str
    anthropic_id: str
    alias: str
    bedrock_id: str
    vertex_id: str | None
    context_window: int
    max_output_tokens: int
    prices: Prices
    lifecycle: Lifecycle
    inference_profiles: tuple[InferenceProfile, ...]
    # Regions where the foundation model is invocable directly (on-demand, no profile).
    bedrock_in_region: tuple[str, ...] = ()
    vertex_regions: tuple[str, ...] = ()
    # Geographic/regional endpoints cost this fraction more than global ones (Sonnet 4.5 on).
    regional_premium: Decimal = Decimal(0)
    retirement: date | None = None
    # Whether Bedrock's CountTokens API accepts this model.
    bedrock_count_tokens: bool = False
    # Ids that clients send by mistake; accepted, answered with a warning header.
    misnamed_ids: tuple[str, ...] = ()
    docs: str = ""
    extra_aliases: tuple[str, ...] = field(default=())

    @property
    def vertex_base_model(self) -> str | None:
        """The `base_model` quota dimension on Vertex AI, e.g. `anthropic-claude-haiku-4-5`."""
        return f"anthropic-{self.vertex_id.split('@', 1)[0]}" if self.vertex_id else None

    def profile(self, geography: Geography) -> InferenceProfile | None:
        return next((p for p in self.inference_profiles if p.geography is geography), None)

    def profile_for_region(self, region: str, geography: Geography) -> InferenceProfile | None:
        """The profile of `geography` that can be called from `region`, if any."""
        profile = self.profile(geography)
        if profile is None or region not in profile.source_regions:
            return None
        return profile


_ANTHROPIC_PRICING = "https://docs.anthropic.com/en/docs/about-claude/pricing"
_ANTHROPIC_MODELS = "https://docs.anthropic.com/en/docs/about-claude/models/overview"
_BEDROCK_PROFILES = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
)

HAIKU_4_5 = Model(
    name="Claude Haiku 4.5",
    anthropic_id="claude-haiku-4-5-20251001",
    alias="claude-haiku-4-5",
    bedrock_id="anthropic.claude-haiku-4-5-20251001-v1:0",
    vertex_id="claude-haiku-4-5@20251001",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=Prices(
        input=Decimal("1"),
        output=Decimal("5"),
        cache_write_5m=Decimal("1.25"),
        cache_write_1h=Decimal("2"),
        cache_read=Decimal("0.10"),
        source=_ANTHROPIC_PRICING,
    ),
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=(
        InferenceProfile(
            Geography.GLOBAL,
            source_regions=("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1"),
            source=_BEDROCK_PROFILES,
        ),
    ),
    regional_premium=Decimal("0.10"),
    bedrock_count_tokens=True,
    misnamed_ids=("claude-haiku-4-5-20251015",),
    docs=_ANTHROPIC_MODELS,
)

MODELS: tuple[Model, ...] = (HAIKU_4_5,)
DEFAULT_MODEL = HAIKU_4_5


class UnknownModelError(LookupError):
    """The name is not a model of the catalog."""


@dataclass(frozen=True)
class Resolved:
    """A model looked up by a name a client sent, with a warning when the name was a courtesy."""

    model: Model
    warning: str | None = None


def _index(models: Iterable[Model]) -> dict[str, Resolved]:
    index: dict[str, Resolved] = {}
    for model in models:
        exact = Resolved(model)
        for name in (model.anthropic_id, model.alias, model.bedrock_id, *model.extra_aliases):
            index[name] = exact
        for wrong in model.misnamed_ids:
            index[wrong] = Resolved(
                model, f"'{wrong}' is not a real model id; served as '{model.anthropic_id}'"
            )
    return index


_BY_NAME = _index(MODELS)


def resolve(name: str) -> Resolved:
    """Find a model by Anthropic id, alias, Bedrock id or a known misnamed id."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModelError(name) from None


def by_alias(alias: str) -> Model:
    """The catalog model whose alias (or id) is `alias`; for configuration and tests."""
    return resolve(alias).model
