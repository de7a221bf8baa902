"""Which Bedrock id the relay invokes for a model, a region and a routing choice."""

from __future__ import annotations

import pytest

from relay.catalog import (
    HAIKU_4_5,
    HAIKU_5_5,
    OPUS_4_1,
    OPUS_4_5,
    OPUS_5_5,
    SONNET_4,
    SONNET_4_6,
    SONNET_5_5,
    Geography,
    Routing,
)
from relay.targets import NoRouteError, bedrock_target, geographies_for, routes_from

HAIKU_GLOBAL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_global_routing_uses_the_global_profile() -> None:
    target = bedrock_target(HAIKU_4_5, "us-east-1", Routing.GLOBAL)
    assert target.model_id == HAIKU_GLOBAL
    assert target.is_profile
    assert not target.premium


def test_geographic_routing_in_the_us_uses_the_us_profile_at_a_premium() -> None:
    target = bedrock_target(HAIKU_4_5, "us-west-2", Routing.GEOGRAPHIC)
    assert target.model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert target.premium


def test_canada_routes_through_the_us_profile() -> None:
    target = bedrock_target(HAIKU_4_5, "ca-central-1", Routing.GEOGRAPHIC)
    assert target.profile is not None
    assert target.profile.geography is Geography.US


def test_tokyo_prefers_the_jp_profile() -> None:
    target = bedrock_target(HAIKU_4_5, "ap-northeast-1", Routing.GEOGRAPHIC)
    assert target.model_id == "jp.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_sydney_prefers_the_au_profile() -> None:
    target = bedrock_target(HAIKU_4_5, "ap-southeast-2", Routing.GEOGRAPHIC)
    assert target.model_id == "au.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_new_zealand_is_a_source_of_the_au_profile() -> None:
    assert geographies_for("ap-southeast-6")[0] is Geography.AU
    target = bedrock_target(SONNET_4_6, "ap-southeast-6", Routing.GEOGRAPHIC)
    assert target.model_id == "au.anthropic.claude-sonnet-4-6"


def test_osaka_reaches_sonnet_4_6_through_the_jp_profile() -> None:
    target = bedrock_target(SONNET_4_6, "ap-northeast-3", Routing.GEOGRAPHIC)
    assert target.model_id == "jp.anthropic.claude-sonnet-4-6"


def test_in_region_routing_uses_the_foundation_model_id() -> None:
    target = bedrock_target(HAIKU_4_5, "ap-northeast-1", Routing.IN_REGION)
    assert target.model_id == HAIKU_4_5.bedrock_id
    assert not target.is_profile
    assert target.premium


def test_in_region_where_not_offered_names_the_regions_that_are() -> None:
    with pytest.raises(NoRouteError, match="not offered in-region in us-west-2") as raised:
        bedrock_target(HAIKU_4_5, "us-west-2", Routing.IN_REGION)
    assert "us-east-1" in str(raised.value)


def test_geographic_without_a_profile_for_the_region_names_the_regions_that_can() -> None:
    with pytest.raises(NoRouteError, match="no geographic inference profile") as raised:
        bedrock_target(OPUS_4_5, "ap-northeast-1", Routing.GEOGRAPHIC)
    assert "eu-west-1" in str(raised.value)


def test_global_routing_falls_back_to_the_geographic_profile_and_pays_the_premium() -> None:
    target = bedrock_target(OPUS_4_1, "us-east-1", Routing.GLOBAL)
    assert target.profile is not None
    assert target.profile.geography is Geography.US
    assert target.premium


def test_global_routing_without_any_profile_from_the_region_fails() -> None:
    with pytest.raises(NoRouteError, match=r"Claude Opus 4\.1 has no global"):
        bedrock_target(OPUS_4_1, "eu-west-1", Routing.GLOBAL)


def test_govcloud_has_no_geographic_route() -> None:
    with pytest.raises(NoRouteError, match="regions that can"):
        bedrock_target(HAIKU_4_5, "us-gov-west-1", Routing.GEOGRAPHIC)


def test_a_retired_model_has_no_route_and_the_error_gives_its_end_of_life() -> None:
    with pytest.raises(NoRouteError, match=r"end of life on Bedrock on 2026-10-14"):
        bedrock_target(SONNET_4, "us-east-1", Routing.GLOBAL)


def test_a_model_without_readable_region_data_routes_nowhere_on_bedrock() -> None:
    assert routes_from(HAIKU_5_5, "us-east-1") == ()
    assert routes_from(SONNET_5_5, "eu-west-1") == ()


def test_opus_5_5_routes_from_tokyo_through_global_then_jp_and_never_in_region() -> None:
    routes = routes_from(OPUS_5_5, "ap-northeast-1")
    assert [(t.routing, t.model_id) for t in routes] == [
        (Routing.GLOBAL, "global.anthropic.claude-opus-5-5"),
        (Routing.GEOGRAPHIC, "jp.anthropic.claude-opus-5-5"),
    ]


def test_opus_5_5_from_a_region_not_yet_read_names_tokyo() -> None:
    # Only the Tokyo source region could be backed by a source; us-east-1 is refused, not guessed.
    with pytest.raises(NoRouteError, match=r"regions that can: ap-northeast-1$"):
        bedrock_target(OPUS_5_5, "us-east-1", Routing.GLOBAL)


def test_hong_kong_candidates_taipei_and_singapore_reach_haiku_4_5_through_global_only() -> None:
    for region in ("ap-east-2", "ap-southeast-1"):
        assert [t.model_id for t in routes_from(HAIKU_4_5, region)] == [HAIKU_GLOBAL], region


def test_hong_kong_candidate_tokyo_reaches_haiku_4_5_three_ways() -> None:
    routes = routes_from(HAIKU_4_5, "ap-northeast-1")
    assert [(t.routing, t.model_id) for t in routes] == [
        (Routing.GLOBAL, HAIKU_GLOBAL),
        (Routing.GEOGRAPHIC, "jp.anthropic.claude-haiku-4-5-20251001-v1:0"),
        (Routing.IN_REGION, HAIKU_4_5.bedrock_id),
    ]


def test_jp_profile_grants_cover_tokyo_and_osaka() -> None:
    profile = HAIKU_4_5.profile(Geography.JP)
    assert profile is not None
    assert profile.destination_regions == ("ap-northeast-1", "ap-northeast-3")
