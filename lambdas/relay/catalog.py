"""The model catalog: the one source of truth for Claude model ids, regions and prices.

The relay (it ships in the Lambda), the CDK stacks, the Pulumi program, the CLI and the tests all
read this module; nothing else spells a model id or a price. Plain frozen dataclasses keep the
import cheap on a Lambda cold start.

Facts were read on 2026-11-26 from the pages linked beside them. Bedrock region data comes from
AWS's "Regional availability" page (one table per model: In-Region, Geo and Global columns per
source Region); Anthropic ids, prices and lifecycle from platform.claude.com. Where a fact could not
be read, the field says less rather than guessing (an empty tuple routes nowhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

MILLION = Decimal(1_000_000)


class Lifecycle(StrEnum):
    """A model's state on Amazon Bedrock (AWS sets its own dates, apart from Anthropic's)."""

    ACTIVE = "active"
    LEGACY = "legacy"
    DEPRECATED = "deprecated"
    # Past its end-of-life date: requests fail. AWS calls this End-of-Life (EOL).
    RETIRED = "retired"


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

    GLOBAL (the default) prefers the global inference profile, the cheaper one, and falls back to
    the geographic profile for models without one. GEOGRAPHIC keeps data
    in the geography of the Bedrock region (us/eu/apac/jp/au profile). IN_REGION calls the
    foundation model in the Bedrock region itself, where the model is offered that way.
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
    Geographic destinations list every Bedrock region of the geography: a superset of where AWS
    routes, since a missing grant fails requests and an extra one costs nothing. The global profile
    routes to any commercial region, so its destinations are not listed.
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
    # From the 4.6 generation on, the dateless id is the canonical id and there is no other alias.
    alias: str
    bedrock_id: str
    vertex_id: str | None
    context_window: int
    max_output_tokens: int
    prices: Prices
    # The state on Bedrock, the relay's backend; `lifecycle_source` is the page it was read from.
    lifecycle: Lifecycle
    inference_profiles: tuple[InferenceProfile, ...]
    # Regions where the foundation model is invocable directly (on-demand, no profile).
    bedrock_in_region: tuple[str, ...] = ()
    vertex_regions: tuple[str, ...] = ()
    # Geographic/regional endpoints (Bedrock geo profiles and in-region, Vertex regional) cost
    # this fraction more than global ones: 10% from Sonnet 4.5 on, nothing for older models.
    regional_premium: Decimal = Decimal(0)
    # Bedrock end-of-life date, once AWS has announced one (legacy or retired models).
    retirement: date | None = None
    # Bedrock promises no end-of-life before this date ("EOL no sooner than" on the model card).
    eol_not_before: date | None = None
    # When the Claude API (Anthropic's own platforms) stops or stopped serving the model.
    anthropic_retirement: date | None = None
    lifecycle_source: str = ""
    # Whether bedrock-runtime CountTokens accepts this model. It takes the bare foundation-model
    # id only: profile ids (global./us./...) are rejected with a ValidationException. Models
    # launched as cross-region-only are not counted there; AWS points to Anthropic's
    # count_tokens on the bedrock-mantle endpoint instead.
    bedrock_count_tokens: bool = False
    # Ids that clients send by mistake; accepted, answered with a warning header.
    misnamed_ids: tuple[str, ...] = ()
    docs: str = ""
    extra_aliases: tuple[str, ...] = field(default=())
    # The day the model was released (GET /v1/models `created_at`), with the page it is read from.
    released: date | None = None
    released_source: str = ""
    # Bedrock InvokeModel honours `output_config.format` (JSON schema output) natively; the relay
    # emulates it with a forced tool elsewhere.
    structured_outputs: bool = False
    # The model takes `output_config.effort`; the others get a thinking budget for an effort.
    effort: bool = False
    # The model thinks with `thinking: {"type": "adaptive"}` (no budget); others take a budget.
    adaptive_thinking: bool = False
    # Bedrock passes `role: "system"` entries inside `messages` to the model; elsewhere the relay
    # folds them into the system prompt or the adjacent user turn.
    mid_conversation_system: bool = False

    @property
    def vertex_base_model(self) -> str | None:
        """The `base_model` quota dimension on Vertex AI, e.g. `anthropic-claude-haiku-4-5`."""
        return f"anthropic-{self.vertex_id.split('@', 1)[0]}" if self.vertex_id else None

    @property
    def family(self) -> str:
        """opus, sonnet or haiku: the word Claude Code's short model names use."""
        return next((w for w in ("opus", "sonnet", "haiku") if w in self.anthropic_id), "")

    @property
    def served(self) -> bool:
        """Whether Bedrock still answers requests for the model (active or legacy)."""
        return self.lifecycle in (Lifecycle.ACTIVE, Lifecycle.LEGACY)

    def profile(self, geography: Geography) -> InferenceProfile | None:
        return next((p for p in self.inference_profiles if p.geography is geography), None)

    def profile_for_region(self, region: str, geography: Geography) -> InferenceProfile | None:
        """The profile of `geography` that can be called from `region`, if any."""
        profile = self.profile(geography)
        if profile is None or region not in profile.source_regions:
            return None
        return profile


_ANTHROPIC_PRICING = "https://platform.claude.com/docs/en/about-claude/pricing"
_ANTHROPIC_MODELS = "https://platform.claude.com/docs/en/about-claude/models/overview"
_ANTHROPIC_DEPRECATIONS = "https://platform.claude.com/docs/en/about-claude/model-deprecations"
# Per-model reference pages: ids, context window, max output and prices of the 5.5 generation.
_ANTHROPIC_MODEL_PAGES = "https://platform.claude.com/docs/en/models/"
# States that Sonnet 4.5 and later cost 10% more on regional than on global endpoints.
_ANTHROPIC_BEDROCK = (
    "https://platform.claude.com/docs/en/build-with-claude/claude-on-amazon-bedrock-legacy"
)
_ANTHROPIC_VERTEX = "https://platform.claude.com/docs/en/build-with-claude/claude-on-vertex-ai"
_BEDROCK_REGIONS = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/models-region-compatibility.html"
)
_BEDROCK_CARDS = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-"
_BEDROCK_COUNT_TOKENS = "https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html"
# Lists the models whose InvokeModel takes `output_config.format` (read 2026-12-01): Sonnet 4.5,
# Haiku 4.5, Opus 4.5 and Opus 4.6. Models it does not list get the relay's emulation.
_BEDROCK_STRUCTURED_OUTPUTS = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-structured-outputs.html"
)
# Which models take `output_config.effort`.
_ANTHROPIC_EFFORT = "https://platform.claude.com/docs/en/build-with-claude/effort"

# Every Bedrock region of a geography: the destinations granted for its geographic profile.
_US = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1")
_EU = (
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
)
_JP = ("ap-northeast-1", "ap-northeast-3")
_AU = ("ap-southeast-2", "ap-southeast-4", "ap-southeast-6")
GEOGRAPHY_REGIONS = {Geography.US: _US, Geography.EU: _EU, Geography.JP: _JP, Geography.AU: _AU}

# Source regions as the Regional availability tables list them (Global and Geo columns).
# The global profile of every current Claude model is callable from the same 33 regions.
_GLOBAL_SOURCES = (
    *_US,
    *_EU,
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "af-south-1",
    "sa-east-1",
    "mx-central-1",
)
# Calgary (ca-west-1) is a Geo source for the 4.6 models only; Osaka only for Sonnet 4.6.
_US_SOURCES_4_5 = _US[:5]
_JP_TOKYO = _JP[:1]


def _profiles(
    *,
    global_sources: tuple[str, ...] = (),
    source: str = _BEDROCK_REGIONS,
    **geo_sources: tuple[str, ...],
) -> tuple[InferenceProfile, ...]:
    """The model's profiles: the global one, then one per geography keyword (us=, eu=, jp=, au=).

    `source` is the page the source regions were read from (AWS's Regional availability tables
    unless said otherwise).
    """
    profiles = [
        InferenceProfile(geography, sources, GEOGRAPHY_REGIONS[geography], source)
        for geography, sources in ((Geography(k), v) for k, v in geo_sources.items())
    ]
    if global_sources:
        profiles.insert(0, InferenceProfile(Geography.GLOBAL, global_sources, (), source))
    return tuple(profiles)


_HAIKU_4_5_PRICES = Prices(
    input=Decimal("1"),
    output=Decimal("5"),
    cache_write_5m=Decimal("1.25"),
    cache_write_1h=Decimal("2"),
    cache_read=Decimal("0.10"),
    source=_ANTHROPIC_PRICING,
)
# Sonnet 4, 4.5 and 4.6 share one price (Sonnet 4.5/4.6 prompts over 200K tokens cost more).
_SONNET_PRICES = Prices(
    input=Decimal("3"),
    output=Decimal("15"),
    cache_write_5m=Decimal("3.75"),
    cache_write_1h=Decimal("6"),
    cache_read=Decimal("0.30"),
    source=_ANTHROPIC_PRICING,
)
# Opus 4.5 and 4.6 share one price; Opus 4.1 is on the older $15/$75 tier.
_OPUS_PRICES = Prices(
    input=Decimal("5"),
    output=Decimal("25"),
    cache_write_5m=Decimal("6.25"),
    cache_write_1h=Decimal("10"),
    cache_read=Decimal("0.50"),
    source=_ANTHROPIC_PRICING,
)
_REGIONAL_PREMIUM = Decimal("0.10")
# Batch inference costs this fraction of the on-demand price, on Bedrock as on the Claude API.
BATCH_PRICE_FACTOR = Decimal("0.5")
_BEDROCK_BATCH = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/capacity-limits-cost-optimization.html"
)
_ANTHROPIC_BATCH = "https://platform.claude.com/docs/en/build-with-claude/batch-processing"

HAIKU_4_5 = Model(
    name="Claude Haiku 4.5",
    anthropic_id="claude-haiku-4-5-20251001",
    alias="claude-haiku-4-5",
    bedrock_id="anthropic.claude-haiku-4-5-20251001-v1:0",
    vertex_id="claude-haiku-4-5@20251001",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=_HAIKU_4_5_PRICES,
    # Active on Bedrock; Anthropic lists it as legacy since Haiku 5.5 shipped.
    lifecycle=Lifecycle.ACTIVE,
    # No apac profile exists for Haiku 4.5: Taipei and Singapore reach it through global only.
    inference_profiles=_profiles(
        global_sources=_GLOBAL_SOURCES,
        us=_US_SOURCES_4_5,
        eu=_EU,
        jp=_JP_TOKYO,
        au=_AU,
    ),
    bedrock_in_region=("us-east-1", "eu-north-1", "eu-west-1", "ap-northeast-1", "ap-southeast-4"),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    eol_not_before=date(2026, 10, 1),
    lifecycle_source=f"{_BEDROCK_CARDS}haiku-4-5.html",
    bedrock_count_tokens=True,
    # Guides print the announcement date; the snapshot is dated 2025-10-01.
    misnamed_ids=("claude-haiku-4-5-20251015",),
    docs=_ANTHROPIC_MODELS,
    released=date(2025, 10, 15),
    released_source=_ANTHROPIC_MODELS,
    structured_outputs=True,
)

SONNET_4_5 = Model(
    name="Claude Sonnet 4.5",
    anthropic_id="claude-sonnet-4-5-20250929",
    alias="claude-sonnet-4-5",
    bedrock_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
    vertex_id="claude-sonnet-4-5@20250929",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=_SONNET_PRICES,
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=_profiles(
        global_sources=_GLOBAL_SOURCES, us=_US_SOURCES_4_5, eu=_EU, jp=_JP_TOKYO, au=_AU
    ),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    # Deprecated on the Claude API; Bedrock keeps its own schedule.
    anthropic_retirement=date(2026, 11, 30),
    lifecycle_source=_BEDROCK_REGIONS,
    docs=_ANTHROPIC_MODELS,
    released=date(2025, 9, 29),
    released_source=_ANTHROPIC_MODELS,
    structured_outputs=True,
)

SONNET_4_6 = Model(
    name="Claude Sonnet 4.6",
    anthropic_id="claude-sonnet-4-6",
    alias="claude-sonnet-4-6",
    # The 4.6 Bedrock ids carry no date and (from Sonnet 4.6 on) no -v1 suffix.
    bedrock_id="anthropic.claude-sonnet-4-6",
    vertex_id="claude-sonnet-4-6",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=_SONNET_PRICES,
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=_profiles(global_sources=_GLOBAL_SOURCES, us=_US, eu=_EU, jp=_JP, au=_AU),
    bedrock_in_region=("eu-west-2",),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    lifecycle_source=_BEDROCK_REGIONS,
    docs=_ANTHROPIC_MODELS,
    released=date(2026, 2, 17),
    released_source=_ANTHROPIC_MODELS,
    effort=True,
    adaptive_thinking=True,
)

OPUS_4_6 = Model(
    name="Claude Opus 4.6",
    anthropic_id="claude-opus-4-6",
    alias="claude-opus-4-6",
    bedrock_id="anthropic.claude-opus-4-6-v1",
    vertex_id="claude-opus-4-6",
    context_window=200_000,
    max_output_tokens=128_000,
    prices=_OPUS_PRICES,
    lifecycle=Lifecycle.ACTIVE,
    # AWS's table lists no Geo route from Tokyo or Osaka (Anthropic's Bedrock page says jp exists).
    inference_profiles=_profiles(global_sources=_GLOBAL_SOURCES, us=_US, eu=_EU, au=_AU),
    bedrock_in_region=("eu-west-2",),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    lifecycle_source=_BEDROCK_REGIONS,
    docs=_ANTHROPIC_MODELS,
    released=date(2026, 2, 5),
    released_source=_ANTHROPIC_MODELS,
    structured_outputs=True,
    effort=True,
    adaptive_thinking=True,
)

OPUS_4_5 = Model(
    name="Claude Opus 4.5",
    anthropic_id="claude-opus-4-5-20251101",
    alias="claude-opus-4-5",
    bedrock_id="anthropic.claude-opus-4-5-20251101-v1:0",
    vertex_id="claude-opus-4-5@20251101",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=_OPUS_PRICES,
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=_profiles(global_sources=_GLOBAL_SOURCES, us=_US_SOURCES_4_5, eu=_EU),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    # Deprecated on the Claude API (the anthropic SDK warns on it); Bedrock keeps its own schedule.
    anthropic_retirement=date(2027, 1, 22),
    lifecycle_source=_BEDROCK_REGIONS,
    # Some listings print the launch date (2025-11-24) in place of the snapshot date.
    misnamed_ids=("claude-opus-4-5-20251124",),
    docs=_ANTHROPIC_MODELS,
    released=date(2025, 11, 24),
    released_source=_ANTHROPIC_MODELS,
    structured_outputs=True,
    effort=True,
)

OPUS_4_1 = Model(
    name="Claude Opus 4.1",
    anthropic_id="claude-opus-4-1-20250805",
    alias="claude-opus-4-1",
    bedrock_id="anthropic.claude-opus-4-1-20250805-v1:0",
    vertex_id="claude-opus-4-1@20250805",
    context_window=200_000,
    max_output_tokens=32_000,
    prices=Prices(
        input=Decimal("15"),
        output=Decimal("75"),
        cache_write_5m=Decimal("18.75"),
        cache_write_1h=Decimal("30"),
        cache_read=Decimal("1.50"),
        source=_ANTHROPIC_PRICING,
    ),
    # Legacy on Bedrock (us profile only, no global); retired on the Claude API.
    lifecycle=Lifecycle.LEGACY,
    inference_profiles=_profiles(us=("us-east-1", "us-east-2", "us-west-2")),
    retirement=date(2027, 1, 8),
    lifecycle_source=_BEDROCK_REGIONS,
    docs=_ANTHROPIC_MODELS,
    released=date(2025, 8, 5),
    released_source=_ANTHROPIC_MODELS,
)

# Past their Bedrock end of life: kept so their ids resolve to a clear error, routed nowhere.
SONNET_4 = Model(
    name="Claude Sonnet 4",
    anthropic_id="claude-sonnet-4-20250514",
    alias="claude-sonnet-4-0",
    bedrock_id="anthropic.claude-sonnet-4-20250514-v1:0",
    vertex_id="claude-sonnet-4@20250514",
    context_window=200_000,
    max_output_tokens=64_000,
    prices=_SONNET_PRICES,
    lifecycle=Lifecycle.RETIRED,
    inference_profiles=(),
    retirement=date(2026, 10, 14),
    anthropic_retirement=date(2026, 6, 15),
    lifecycle_source=_BEDROCK_REGIONS,
    docs=_ANTHROPIC_DEPRECATIONS,
    released=date(2025, 5, 22),
    released_source=_ANTHROPIC_DEPRECATIONS,
)

HAIKU_3_5 = Model(
    name="Claude Haiku 3.5",
    anthropic_id="claude-3-5-haiku-20241022",
    alias="claude-3-5-haiku-latest",
    bedrock_id="anthropic.claude-3-5-haiku-20241022-v1:0",
    vertex_id="claude-3-5-haiku@20241022",
    context_window=200_000,
    max_output_tokens=8_192,
    prices=Prices(
        input=Decimal("0.80"),
        output=Decimal("4"),
        cache_write_5m=Decimal("1"),
        cache_write_1h=Decimal("1.6"),
        cache_read=Decimal("0.08"),
        source=_ANTHROPIC_PRICING,
    ),
    lifecycle=Lifecycle.RETIRED,
    inference_profiles=(),
    retirement=date(2026, 6, 19),
    anthropic_retirement=date(2026, 2, 19),
    lifecycle_source=f"{_BEDROCK_CARDS}claude-3-5-haiku.html",
    docs=_ANTHROPIC_DEPRECATIONS,
    released=date(2024, 10, 22),
    released_source=_ANTHROPIC_DEPRECATIONS,
)

# The current Opus (Claude Code asks for it by default). Bedrock offers it through profiles only
# (global, us, eu, jp, au per its model card). AWS's per-region table was not readable when this
# was written; the only source regions known are from a published list-inference-profiles run in
# Tokyo (global, and jp routing to Tokyo and Osaka). Other regions get no route until the table
# is read: listing fewer source regions than AWS does refuses requests, never misroutes them.
_OPUS_5_5_TOKYO_RUN = "https://dev.classmethod.jp/en/articles/bedrock-claude-opus-5-5/"
OPUS_5_5 = Model(
    name="Claude Opus 5.5",
    anthropic_id="claude-opus-5-5",
    alias="claude-opus-5-5",
    bedrock_id="anthropic.claude-opus-5-5",
    vertex_id="claude-opus-5-5",
    context_window=1_000_000,
    max_output_tokens=128_000,
    prices=Prices(
        input=Decimal("4"),
        output=Decimal("20"),
        # The documented 1.25x (5 minutes) and 2x (1 hour) cache-write multipliers of input.
        cache_write_5m=Decimal("5"),
        cache_write_1h=Decimal("8"),
        cache_read=Decimal("0.20"),
        source=_ANTHROPIC_PRICING,
    ),
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=_profiles(
        global_sources=_JP_TOKYO, jp=_JP_TOKYO, source=_OPUS_5_5_TOKYO_RUN
    ),
    vertex_regions=("global",),
    regional_premium=_REGIONAL_PREMIUM,
    eol_not_before=date(2027, 9, 22),
    lifecycle_source=f"{_BEDROCK_CARDS}claude-opus-5-5.html",
    docs=_ANTHROPIC_MODELS,
    # Bedrock's "EOL no sooner than" is a year after launch.
    released=date(2026, 9, 22),
    released_source=f"{_BEDROCK_CARDS}claude-opus-5-5.html",
    effort=True,
    adaptive_thinking=True,
)

# The 5.5 Haiku and Sonnet. Their Bedrock region tables were not readable when this was written:
# no profile is listed, so they route nowhere on Bedrock until the tables are filled in. Their
# Vertex regions were not read either (an empty tuple leaves the region unchecked).
# The Bedrock and Vertex ids are the ones the AI SDK added at launch (with a us. profile for both);
# the regional premium is the one Anthropic states for Sonnet 4.5 and later.
_AI_SDK_RELEASES = "https://github.com/vercel/ai/releases/tag/@ai-sdk%2Famazon-bedrock@"
_HAIKU_5_5_IDS = f"{_AI_SDK_RELEASES}5.0.109"
_SONNET_5_5_IDS = f"{_AI_SDK_RELEASES}5.0.99"
HAIKU_5_5 = Model(
    name="Claude Haiku 5.5",
    anthropic_id="claude-haiku-5-5",
    alias="claude-haiku-5-5",
    bedrock_id="anthropic.claude-haiku-5-5",
    vertex_id="claude-haiku-5-5",
    context_window=1_000_000,
    max_output_tokens=128_000,
    # Prompts up to 100,000 tokens; longer prompts cost 5x these rates.
    prices=Prices(
        input=Decimal("0.10"),
        output=Decimal("0.50"),
        cache_write_5m=Decimal("0.125"),
        cache_write_1h=Decimal("0.20"),
        # The documented 0.1x cache-hit multiplier of input.
        cache_read=Decimal("0.01"),
        source=f"{_ANTHROPIC_MODEL_PAGES}haiku-5-5/overview",
    ),
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=(),
    regional_premium=_REGIONAL_PREMIUM,
    eol_not_before=date(2027, 10, 7),
    lifecycle_source=f"{_BEDROCK_CARDS}claude-haiku-5-5.html",
    docs=f"{_ANTHROPIC_MODEL_PAGES}haiku-5-5/overview",
    released=date(2026, 10, 7),
    released_source=_HAIKU_5_5_IDS,
    effort=True,
    adaptive_thinking=True,
)

# No Bedrock model card was readable: Active because the AI SDK added its Bedrock ids at launch
# (2026-09-28) and no Bedrock end of life was found. Its prices are read from the comparison
# table of the Haiku 5.5 page.
SONNET_5_5 = Model(
    name="Claude Sonnet 5.5",
    anthropic_id="claude-sonnet-5-5",
    alias="claude-sonnet-5-5",
    bedrock_id="anthropic.claude-sonnet-5-5",
    vertex_id="claude-sonnet-5-5",
    context_window=1_000_000,
    max_output_tokens=128_000,
    prices=Prices(
        input=Decimal("2"),
        output=Decimal("10"),
        # The documented 1.25x, 2x and 0.1x cache multipliers of input.
        cache_write_5m=Decimal("2.50"),
        cache_write_1h=Decimal("4"),
        cache_read=Decimal("0.20"),
        source=f"{_ANTHROPIC_MODEL_PAGES}haiku-5-5/overview",
    ),
    lifecycle=Lifecycle.ACTIVE,
    inference_profiles=(),
    regional_premium=_REGIONAL_PREMIUM,
    lifecycle_source=_SONNET_5_5_IDS,
    docs=f"{_ANTHROPIC_MODEL_PAGES}sonnet-5-5/overview",
    released=date(2026, 9, 28),
    released_source=_SONNET_5_5_IDS,
    effort=True,
    adaptive_thinking=True,
)

MODELS: tuple[Model, ...] = (
    HAIKU_4_5,
    SONNET_4_5,
    SONNET_4_6,
    OPUS_4_5,
    OPUS_4_6,
    OPUS_5_5,
    OPUS_4_1,
    SONNET_4,
    HAIKU_3_5,
    HAIKU_5_5,
    SONNET_5_5,
)
DEFAULT_MODEL = HAIKU_4_5

# Sources not attached to a single model, for readers of this module.
SOURCES = {
    "regional_premium": _ANTHROPIC_BEDROCK,
    "batch_price_factor": _BEDROCK_BATCH,
    "batch_price_factor_anthropic": _ANTHROPIC_BATCH,
    "haiku_5_5_ids": _HAIKU_5_5_IDS,
    "sonnet_5_5_ids": _SONNET_5_5_IDS,
    "vertex_ids": _ANTHROPIC_VERTEX,
    "count_tokens": _BEDROCK_COUNT_TOKENS,
}


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
        names = (model.anthropic_id, model.alias, model.bedrock_id, *model.extra_aliases)
        vertex = (model.vertex_id,) if model.vertex_id else ()
        profiles = tuple(p.profile_id(model.bedrock_id) for p in model.inference_profiles)
        for name in (*names, *vertex, *profiles):
            _add(index, name, exact)
        for wrong in model.misnamed_ids:
            warning = f"'{wrong}' is not a real model id; served as '{model.anthropic_id}'"
            _add(index, wrong, Resolved(model, warning))
    return index


def _add(index: dict[str, Resolved], name: str, resolved: Resolved) -> None:
    held = index.setdefault(name, resolved)
    if held.model is not resolved.model:
        raise ValueError(f"{name!r} names both {held.model.name} and {resolved.model.name}")


class Catalog:
    """A set of models and the names that find them: the shipped catalog, or the shipped
    catalog with an operator's additions and overrides (`relay.catalog_extra`)."""

    def __init__(self, models: Iterable[Model]) -> None:
        self.models: tuple[Model, ...] = tuple(models)
        self._by_name = _index(self.models)

    def resolve(self, name: str) -> Resolved:
        """Find a model by Anthropic id, alias, Bedrock or Vertex id, profile id or misnamed
        id."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownModelError(name) from None

    def by_alias(self, alias: str) -> Model:
        """The model whose alias (or id) is `alias`; for configuration and tests."""
        return self.resolve(alias).model

    def with_models(self, models: Iterable[Model]) -> Catalog:
        """This catalog with `models` added; one with the alias of a shipped model replaces it."""
        replacing = {model.alias: model for model in models}
        kept = [replacing.pop(m.alias, m) for m in self.models]
        return Catalog((*kept, *replacing.values()))


CATALOG = Catalog(MODELS)


def batch_prices(model: Model) -> Prices:
    """The model's prices in a batch (Bedrock batch inference, the Claude API's Message
    Batches): every token at `BATCH_PRICE_FACTOR` of its on-demand price."""
    prices = model.prices
    return Prices(
        input=prices.input * BATCH_PRICE_FACTOR,
        output=prices.output * BATCH_PRICE_FACTOR,
        cache_write_5m=prices.cache_write_5m * BATCH_PRICE_FACTOR,
        cache_write_1h=prices.cache_write_1h * BATCH_PRICE_FACTOR,
        cache_read=prices.cache_read * BATCH_PRICE_FACTOR,
        source=_BEDROCK_BATCH,
    )


def in_batch(model: Model) -> Model:
    """The model priced as in a batch (what `relay.pricing` prices a batch's request with)."""
    return replace(model, prices=batch_prices(model))


def resolve(name: str) -> Resolved:
    """Find a model of the shipped catalog by any of its names (see `Catalog.resolve`)."""
    return CATALOG.resolve(name)


def by_alias(alias: str) -> Model:
    """The shipped catalog model whose alias (or id) is `alias`; for configuration and tests."""
    return CATALOG.by_alias(alias)
