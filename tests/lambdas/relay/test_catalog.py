"""The model catalog: lookups by every name a client may send, and the facts every model carries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relay.catalog import (
    DEFAULT_MODEL,
    HAIKU_3_5,
    HAIKU_4_5,
    HAIKU_5_5,
    MODELS,
    OPUS_4_1,
    OPUS_5_5,
    SONNET_4,
    SONNET_4_5,
    SONNET_5_5,
    Geography,
    Lifecycle,
    Model,
    UnknownModelError,
    by_alias,
    resolve,
)

HAIKU_IDS = (
    "claude-haiku-4-5-20251001",
    "claude-haiku-4-5",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-haiku-4-5@20251001",
    "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
)


def _names(model: Model) -> set[str]:
    return {model.anthropic_id, model.alias, model.bedrock_id, *model.extra_aliases}


def test_default_model_is_haiku_4_5() -> None:
    assert DEFAULT_MODEL is HAIKU_4_5


@pytest.mark.parametrize("name", HAIKU_IDS)
def test_haiku_4_5_resolves_by_every_id_without_warning(name: str) -> None:
    resolved = resolve(name)
    assert resolved.model is HAIKU_4_5
    assert resolved.warning is None


def test_haiku_4_5_ids_are_the_documented_ones() -> None:
    assert (HAIKU_4_5.anthropic_id, HAIKU_4_5.bedrock_id, HAIKU_4_5.vertex_id) == (
        "claude-haiku-4-5-20251001",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "claude-haiku-4-5@20251001",
    )


def test_misnamed_haiku_id_resolves_with_a_warning_naming_the_real_id() -> None:
    resolved = resolve("claude-haiku-4-5-20251015")
    assert resolved.model is HAIKU_4_5
    assert resolved.warning is not None
    assert "claude-haiku-4-5-20251001" in resolved.warning


def test_unknown_name_raises_unknown_model_error_carrying_the_name() -> None:
    with pytest.raises(UnknownModelError) as raised:
        resolve("claude-haiku-9")
    assert raised.value.args == ("claude-haiku-9",)


def test_by_alias_returns_the_model() -> None:
    assert by_alias("claude-sonnet-4-5") is SONNET_4_5


def test_profile_id_of_a_geography_the_model_lacks_is_unknown() -> None:
    # Haiku 4.5 has no apac profile; guides that print one name an id Bedrock rejects.
    with pytest.raises(UnknownModelError):
        resolve("apac.anthropic.claude-haiku-4-5-20251001-v1:0")


def test_names_are_unique_across_models() -> None:
    seen: dict[str, str] = {}
    for model in MODELS:
        for name in _names(model) | set(model.misnamed_ids):
            assert seen.setdefault(name, model.name) == model.name, name


def test_aliases_are_unique_across_models() -> None:
    aliases = [model.alias for model in MODELS]
    assert len(aliases) == len(set(aliases))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.alias)
def test_every_model_has_positive_prices_with_a_source(model: Model) -> None:
    prices = model.prices
    amounts = (
        prices.input,
        prices.output,
        prices.cache_write_5m,
        prices.cache_write_1h,
        prices.cache_read,
    )
    assert all(amount > 0 for amount in amounts)
    assert prices.source.startswith("https://")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.alias)
def test_cache_prices_follow_the_documented_multipliers(model: Model) -> None:
    prices = model.prices
    assert prices.cache_write_5m == prices.input * Decimal("1.25")
    assert prices.cache_write_1h == prices.input * 2
    assert prices.cache_read <= prices.input / 10


def test_haiku_4_5_prices_are_the_published_ones() -> None:
    prices = HAIKU_4_5.prices
    assert (
        prices.input,
        prices.output,
        prices.cache_write_5m,
        prices.cache_write_1h,
        prices.cache_read,
    ) == (Decimal(1), Decimal(5), Decimal("1.25"), Decimal(2), Decimal("0.10"))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.alias)
def test_every_profile_has_a_source_and_source_regions(model: Model) -> None:
    for profile in model.inference_profiles:
        assert profile.source.startswith("https://"), profile.geography
        assert profile.source_regions, profile.geography


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.alias)
def test_geographic_profiles_list_their_source_regions_among_destinations(model: Model) -> None:
    for profile in model.inference_profiles:
        if profile.geography is not Geography.GLOBAL:
            assert set(profile.source_regions) <= set(profile.destination_regions)


def test_regional_premium_is_ten_percent_from_sonnet_4_5_on_and_absent_before() -> None:
    assert HAIKU_4_5.regional_premium == Decimal("0.10")
    assert SONNET_4_5.regional_premium == Decimal("0.10")
    assert OPUS_4_1.regional_premium == 0
    assert SONNET_4.regional_premium == 0


@pytest.mark.parametrize("model", [SONNET_4, HAIKU_3_5], ids=lambda m: m.alias)
def test_models_past_bedrock_end_of_life_are_retired_and_not_served(model: Model) -> None:
    assert model.lifecycle is Lifecycle.RETIRED
    assert model.retirement is not None
    assert model.retirement < date(2026, 11, 26)
    assert not model.served


def test_legacy_opus_4_1_is_still_served_until_its_end_of_life() -> None:
    assert OPUS_4_1.lifecycle is Lifecycle.LEGACY
    assert OPUS_4_1.served
    assert OPUS_4_1.retirement == date(2027, 1, 8)


def test_only_haiku_4_5_is_marked_countable_by_bedrock_count_tokens() -> None:
    assert [m for m in MODELS if m.bedrock_count_tokens] == [HAIKU_4_5]


def test_vertex_base_model_drops_the_snapshot_date() -> None:
    assert HAIKU_4_5.vertex_base_model == "anthropic-claude-haiku-4-5"


def test_profile_for_region_is_none_outside_the_source_regions() -> None:
    assert HAIKU_4_5.profile_for_region("ap-east-2", Geography.JP) is None
    jp = HAIKU_4_5.profile_for_region("ap-northeast-1", Geography.JP)
    assert jp is not None
    assert jp.profile_id(HAIKU_4_5.bedrock_id) == "jp.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_the_5_5_models_come_last_so_earlier_positions_keep_their_models() -> None:
    assert MODELS[-2:] == (HAIKU_5_5, SONNET_5_5)
    assert MODELS[0] is DEFAULT_MODEL


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("claude-haiku-5-5", HAIKU_5_5),
        ("anthropic.claude-haiku-5-5", HAIKU_5_5),
        ("claude-sonnet-5-5", SONNET_5_5),
        ("anthropic.claude-sonnet-5-5", SONNET_5_5),
        ("global.anthropic.claude-opus-5-5", OPUS_5_5),
        ("jp.anthropic.claude-opus-5-5", OPUS_5_5),
    ],
)
def test_5_5_models_resolve_by_their_ids(name: str, model: Model) -> None:
    resolved = resolve(name)
    assert resolved.model is model
    assert resolved.warning is None


def test_opus_5_5_profiles_are_global_and_jp_callable_from_tokyo() -> None:
    assert [p.geography for p in OPUS_5_5.inference_profiles] == [Geography.GLOBAL, Geography.JP]
    for profile in OPUS_5_5.inference_profiles:
        assert profile.source_regions == ("ap-northeast-1",)
        assert profile.source.startswith("https://")
    jp = OPUS_5_5.profile(Geography.JP)
    assert jp is not None
    assert jp.destination_regions == ("ap-northeast-1", "ap-northeast-3")
    assert not OPUS_5_5.bedrock_in_region


def test_haiku_5_5_facts_are_the_published_ones() -> None:
    assert (HAIKU_5_5.context_window, HAIKU_5_5.max_output_tokens) == (1_000_000, 128_000)
    prices = HAIKU_5_5.prices
    assert (prices.input, prices.output, prices.cache_write_5m, prices.cache_write_1h) == (
        Decimal("0.10"),
        Decimal("0.50"),
        Decimal("0.125"),
        Decimal("0.20"),
    )
    assert HAIKU_5_5.lifecycle is Lifecycle.ACTIVE
    assert HAIKU_5_5.eol_not_before == date(2027, 10, 7)


def test_sonnet_5_5_is_priced_below_sonnet_4_5() -> None:
    assert (SONNET_5_5.prices.input, SONNET_5_5.prices.output) == (Decimal(2), Decimal(10))
    assert SONNET_5_5.prices.input < SONNET_4_5.prices.input


@pytest.mark.parametrize("model", [HAIKU_5_5, SONNET_5_5], ids=lambda m: m.alias)
def test_5_5_models_without_readable_bedrock_regions_list_no_profiles(model: Model) -> None:
    assert model.inference_profiles == ()
    assert model.served
    assert model.regional_premium == Decimal("0.10")


def test_every_model_says_when_it_was_released_and_where_each_fact_was_read() -> None:
    for model in MODELS:
        assert model.released is not None, model.alias
        assert model.released_source.startswith("https://"), model.alias
        assert model.lifecycle_source.startswith("https://"), model.alias
        assert model.docs.startswith("https://"), model.alias
        assert model.prices.source.startswith("https://"), model.alias


def test_models_the_anthropic_sdk_calls_deprecated_have_a_claude_api_retirement() -> None:
    from anthropic._data.deprecated_models import DEPRECATED_MODELS

    for model in MODELS:
        if model.anthropic_id in DEPRECATED_MODELS or model.alias in DEPRECATED_MODELS:
            assert model.anthropic_retirement is not None, model.alias


def test_native_structured_outputs_are_the_models_aws_lists() -> None:
    native = {m.alias for m in MODELS if m.structured_outputs}
    assert native == {"claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5", "claude-opus-4-6"}


def test_adaptive_thinking_models_take_effort_too() -> None:
    assert all(m.effort for m in MODELS if m.adaptive_thinking)


def test_family_is_read_from_the_anthropic_id() -> None:
    assert {m.family for m in MODELS} == {"opus", "sonnet", "haiku"}
