"""The typed configuration: defaults from cdk.json, `-c` overrides, and errors that name the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_stack_helpers import DEFAULT_OVERRIDES, cdk_json_context

from relay.catalog import DEFAULT_MODEL, MODELS, OPUS_4_6, Routing
from relay.targets import NoRouteError, bedrock_target
from stacks.aws.bedrock_grants import invoke_statements
from stacks.aws.config import HONG_KONG, ConfigError, load_config

OPUS_4_8 = {
    "base": OPUS_4_6.alias,
    "bedrock_id": "anthropic.claude-opus-4-8",
    "inference_profiles": {"global": ["us-east-1"]},
    "source": "https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-x.html",
}


def _load(**overrides: Any) -> Any:
    context = cdk_json_context()
    context.update({f"relaykit.{k}": v for k, v in {**RECIPIENT, **overrides}.items()})
    return load_config(context)


RECIPIENT = {"alarms.emails": '["ops@example.com"]'}
HK_COUNTRIES = {"waf.enabled": "true", "waf.allowedCountries": '["HK"]'}


def test_no_alarm_recipient_fails_synthesis_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.alarms\.emails: no one would hear"):
        load_config(cdk_json_context())


def test_deploying_without_recipients_needs_the_explicit_acknowledgement() -> None:
    config = _load(**{"alarms.emails": "[]", "alarms.acknowledgeNoRecipients": "true"})
    assert config.settings.alarms.emails == ()


def test_defaults_deploy_the_catalog_default_model_in_one_region() -> None:
    config = _load()
    assert [m.alias for m in config.models] == [DEFAULT_MODEL.alias]
    assert [r.name for r in config.relays] == ["primary"]
    assert config.primary.bedrock_region == config.primary.region
    assert config.settings.routing is Routing.GLOBAL
    assert config.account is None


def _served_from(region: str) -> list[str]:
    served = []
    for model in MODELS:
        try:
            bedrock_target(model, region, Routing.GLOBAL)
        except NoRouteError:
            continue
        served.append(model.alias)
    return served


def test_cli_overrides_are_parsed_as_json_or_lists() -> None:
    aliases = _served_from("us-east-1")
    config = _load(
        models=",".join(aliases), **{"usagePlan.quotaPerDay": "500", "account": "123456789012"}
    )
    assert [m.alias for m in config.models] == aliases
    assert config.settings.usage_plan.quota_per_day == 500
    assert config.account == "123456789012"


def test_hong_kong_relay_calls_the_nearest_candidate_that_serves_every_model() -> None:
    config = _load(**{"hongKong.enabled": "true", **HK_COUNTRIES})
    site = config.relays[1]
    assert site.region == HONG_KONG

    def serves(region: str) -> bool:
        try:
            return all(bedrock_target(m, region, config.settings.routing) for m in config.models)
        except NoRouteError:
            return False

    candidates = config.settings.hong_kong.bedrock_region_candidates
    assert site.bedrock_region == next(r for r in candidates if serves(r))
    assert "nearest candidate" in site.bedrock_region_reason


def test_bedrock_region_in_hong_kong_is_refused_with_the_opt_in_note() -> None:
    with pytest.raises(
        ConfigError,
        match=r"relaykit\.primary\.region: Amazon Bedrock has no endpoint in ap-east-1.*opt-in",
    ):
        _load(**{"primary.region": HONG_KONG})


def test_hong_kong_bedrock_region_cannot_be_hong_kong() -> None:
    with pytest.raises(
        ConfigError, match=r"relaykit\.hongKong\.bedrockRegion: Amazon Bedrock has no endpoint"
    ):
        _load(**{"hongKong.enabled": "true", "hongKong.bedrockRegion": HONG_KONG, **HK_COUNTRIES})


def test_no_candidate_serving_the_models_is_an_error_listing_each_refusal() -> None:
    with pytest.raises(ConfigError, match=r"hongKong\.bedrockRegion: no candidate region serves"):
        _load(
            **{
                "hongKong.enabled": "true",
                "hongKong.bedrockRegionCandidates": '["eu-west-9"]',
                **HK_COUNTRIES,
            }
        )


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.hongkong: unknown key"):
        _load(**{"hongkong": "{}"})


def test_unknown_model_is_named_with_the_fix() -> None:
    with pytest.raises(
        ConfigError, match=r"relaykit\.models: 'claude-nonexistent' is not a model of the catalog"
    ):
        _load(models="claude-nonexistent")


def test_bad_values_name_their_keys() -> None:
    with pytest.raises(ConfigError) as error:
        _load(**{"alarms.emails": '["not-an-email"]', "waf.allowedCountries": '["hongkong"]'})
    assert "relaykit.alarms.emails" in str(error.value)
    assert "relaykit.waf.allowedCountries" in str(error.value) or "allowed_countries" in str(
        error.value
    )


def test_in_region_routing_where_the_model_is_not_offered_is_refused() -> None:
    region = "eu-south-9"  # well-formed, and in no model's in-region list
    assert region not in DEFAULT_MODEL.bedrock_in_region
    with pytest.raises(ConfigError, match=r"relaykit\.primary\.region: .*not offered in-region"):
        _load(routing="in-region", **{"primary.region": region})


def test_hong_kong_without_a_country_allow_list_fails_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.waf\.allowedCountries: the Hong Kong"):
        _load(**{"hongKong.enabled": "true"})


def test_hong_kong_with_waf_off_cannot_acknowledge_any_country() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.waf\.allowedCountries"):
        _load(
            **{
                "hongKong.enabled": "true",
                "waf.enabled": "false",
                "waf.acknowledgeAnyCountry": "true",
            }
        )


def test_hong_kong_with_a_country_list_or_the_acknowledgement_synthesises() -> None:
    listed = _load(**{"hongKong.enabled": "true", **HK_COUNTRIES})
    acknowledged = _load(
        **{
            "hongKong.enabled": "true",
            "waf.enabled": "true",
            "waf.acknowledgeAnyCountry": "true",
        }
    )
    assert [r.name for r in listed.relays] == [r.name for r in acknowledged.relays]
    assert [r.name for r in listed.relays] == ["primary", "hongkong"]


def test_the_cdk_config_grants_the_added_model_and_names_the_context_key() -> None:
    context = {**cdk_json_context(), **DEFAULT_OVERRIDES}
    context["relaykit.catalogExtra"] = json.dumps({"claude-opus-4-8": OPUS_4_8})
    context["relaykit.models"] = "claude-opus-4-8"
    config = load_config(context)
    [target] = config.primary.targets
    assert target.model_id == "global.anthropic.claude-opus-4-8"
    resources = {r for s in invoke_statements([target], "123456789012") for r in s.resources}
    assert any(r.endswith("inference-profile/global.anthropic.claude-opus-4-8") for r in resources)
    context["relaykit.catalogExtra"] = json.dumps({"claude-opus-4-8": {**OPUS_4_8, "released": 5}})
    with pytest.raises(ConfigError, match=r"relaykit\.catalogExtra\.claude-opus-4-8\.released"):
        load_config(context)


def test_the_cdk_alias_map_must_point_at_a_deployed_model() -> None:
    context = {**cdk_json_context(), **DEFAULT_OVERRIDES}
    context["relaykit.modelAliases"] = json.dumps({"claude-opus-*": OPUS_4_6.alias})
    with pytest.raises(ConfigError, match="not one of the models deployed"):
        load_config(context)
    context["relaykit.models"] = OPUS_4_6.alias
    assert load_config(context).settings.model_aliases == {"claude-opus-*": OPUS_4_6.alias}


THREE_RELAYS = [
    {"name": "us", "region": "us-east-1"},
    {"name": "eu", "region": "eu-west-1"},
    {"name": "hk", "region": HONG_KONG},
]


def _relays(relays: list[dict[str, Any]], **overrides: Any) -> Any:
    return _load(relays=json.dumps(relays), **overrides)


def test_listed_relays_become_sites_in_order_each_with_a_bedrock_region() -> None:
    config = _relays(THREE_RELAYS, **HK_COUNTRIES)
    assert [(r.name, r.region) for r in config.relays] == [
        ("us", "us-east-1"),
        ("eu", "eu-west-1"),
        ("hk", HONG_KONG),
    ]
    assert [r.bedrock_region for r in config.relays[:2]] == ["us-east-1", "eu-west-1"]
    # A relay in Hong Kong without a Bedrock region gets the Hong Kong candidates.
    assert config.relays[2].bedrock_region in config.settings.hong_kong.bedrock_region_candidates
    assert [r.stack_label for r in config.relays] == ["Us", "Eu", "Hk"]
    assert config.primary.name == "us"


def test_the_translated_blocks_keep_their_stack_ids_and_so_do_relays_named_like_them() -> None:
    translated = _load(**{"hongKong.enabled": "true", **HK_COUNTRIES})
    listed = _relays(
        [{"name": "primary", "region": "us-east-1"}, {"name": "hongkong", "region": HONG_KONG}],
        **HK_COUNTRIES,
    )
    assert [r.stack_label for r in translated.relays] == ["Primary", "HongKong"]
    assert translated.relays == listed.relays


def test_a_listed_relay_in_hong_kong_needs_the_country_allow_list() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.waf\.allowedCountries: the Hong Kong"):
        _relays(THREE_RELAYS)


def test_listing_relays_beside_the_earlier_blocks_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"relays replaces relaykit\.hongKong.*remove"):
        _relays(THREE_RELAYS, **{"hongKong.enabled": "true", **HK_COUNTRIES})


@pytest.mark.parametrize(
    ("relays", "message"),
    [
        ([], r"relaykit\.relays: list at least one relay"),
        ([{"name": "us", "region": "us-east-1"}] * 2, r"relay names must differ: us"),
        (
            [{"name": "a", "region": "us-east-1"}, {"name": "b", "region": "us-east-1"}],
            r"relay regions must differ: us-east-1",
        ),
        ([{"name": "US-East", "region": "us-east-1"}], r"relaykit\.relays\.0\.name: 'US-East'"),
        ([{"name": "us", "region": "virginia"}], r"relaykit\.relays\.0\.region: 'virginia'"),
        (
            [
                {
                    "name": "us",
                    "region": "us-east-1",
                    "bedrockRegion": "us-east-1",
                    "bedrockRegionCandidates": ["us-west-2"],
                }
            ],
            r"relaykit\.relays\.0: give bedrockRegion or bedrockRegionCandidates, not both",
        ),
    ],
)
def test_bad_relay_lists_are_refused_naming_the_key(
    relays: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _relays(relays)


def test_a_listed_relay_in_a_region_without_bedrock_and_no_candidates_names_its_index() -> None:
    with pytest.raises(
        ConfigError,
        match=r"relaykit\.relays\[1\]\.bedrockRegion: Amazon Bedrock has no endpoint in ap-east-1",
    ):
        _relays(
            [
                {"name": "us", "region": "us-east-1"},
                {"name": "hk", "region": HONG_KONG, "bedrockRegion": HONG_KONG},
            ],
            **HK_COUNTRIES,
        )


def test_a_relay_takes_its_own_routing_or_the_global_one() -> None:
    config = _relays(
        [
            {"name": "us", "region": "us-east-1"},
            {"name": "eu", "region": "eu-west-1", "routing": "geographic"},
        ]
    )
    assert [r.routing for r in config.relays] == [Routing.GLOBAL, Routing.GEOGRAPHIC]
    assert config.relays[1].targets[0].model_id.startswith("eu.")


def test_the_nearest_listed_candidate_serving_the_models_is_chosen() -> None:
    config = _relays(
        [
            {
                "name": "us",
                "region": "us-east-1",
                "bedrockRegionCandidates": ["eu-west-9", "us-west-2"],
            }
        ]
    )
    assert config.primary.bedrock_region == "us-west-2"
    assert "nearest candidate" in config.primary.bedrock_region_reason


DOMAIN = {
    "name": "claude.example.com",
    "hostedZoneId": "Z0123456789ABC",
    "hostedZoneName": "example.com",
}
FEDERATION = {"type": "external_account", "audience": "//iam.googleapis.com/projects/1/x"}


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ({**DOMAIN, "name": "claude.example.org"}, r"not in the zone 'example\.com'"),
        (
            {**DOMAIN, "hostedZoneId": "example.com"},
            r"hostedZoneId: 'example\.com' is not a Route 53",
        ),
        ({**DOMAIN, "routing": "geolocation"}, r"geolocation routing needs locations"),
        ({**DOMAIN, "locations": {"eu": ["continent:EU"]}}, r'need routing "geolocation"'),
        (
            {**DOMAIN, "routing": "geolocation", "locations": {"eu": ["continent:XX"]}},
            r"not locations: \['continent:XX'\]",
        ),
        (
            {
                **DOMAIN,
                "routing": "geolocation",
                "locations": {"eu": ["country:DE"], "us": ["country:DE"]},
            },
            r"each location goes to one relay: country:DE",
        ),
        (
            {**DOMAIN, "routing": "geolocation", "locations": {"mars": ["continent:EU"]}},
            r"relaykit\.domain\.locations: mars is not a relay",
        ),
        (
            {
                **DOMAIN,
                "routing": "geolocation",
                "locations": {"eu": ["continent:EU"]},
                "defaultRelay": "mars",
            },
            r"relaykit\.domain\.defaultRelay: mars is not a relay",
        ),
    ],
)
def test_bad_domain_blocks_are_refused_naming_the_key(domain: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _relays(THREE_RELAYS[:2], domain=json.dumps(domain))


def test_vertex_credentials_come_inline_or_from_the_gcp_programs_output_file(
    tmp_path: Any,
) -> None:
    outputs = tmp_path / "gcp-outputs.json"
    outputs.write_text(json.dumps({"federationCredentialConfig": json.dumps(FEDERATION)}))
    for credentials in (FEDERATION, str(outputs)):
        vertex = {"project": "relay-example-123", "region": "us-east5", "credentials": credentials}
        config = _load(vertex=json.dumps(vertex))
        env = config.failover_environment
        assert json.loads(env["RELAY_VERTEX_CREDENTIALS"]) == FEDERATION
        assert env["RELAY_VERTEX_PROJECT"] == "relay-example-123"


def test_a_service_account_key_is_refused_for_the_lambda_environment() -> None:
    vertex = {"project": "relay-example-123", "credentials": {"type": "service_account"}}
    with pytest.raises(ConfigError, match=r"relaykit\.vertex\.credentials: .*external_account"):
        _load(vertex=json.dumps(vertex))


def test_fallbacks_are_read_as_the_relay_reads_them_and_checked_against_the_deployment() -> None:
    alias = DEFAULT_MODEL.alias
    with pytest.raises(ConfigError, match=r"relaykit\.fallbacks\['.*'\]: a vertex step needs"):
        _load(fallbacks=json.dumps({alias: ["vertex"]}))
    with pytest.raises(ConfigError, match=r"relaykit\.fallbacks: RELAY_FALLBACKS.*cannot read"):
        _load(fallbacks=json.dumps({alias: ["carrier-pigeon"]}))
    config = _load(fallbacks=json.dumps({alias: ["bedrock:us-west-2"]}))
    assert json.loads(config.failover_environment["RELAY_FALLBACKS"]) == {
        alias: ["bedrock:us-west-2"]
    }
    assert [t.region for t in config.primary.fallback_targets] == ["us-west-2"]


def test_a_prefix_and_name_too_long_for_the_role_name_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.prefix: the role name .* exceeds IAM's 64"):
        _relays(
            [{"name": "relayinsoutheastasia", "region": "ap-southeast-1"}],
            prefix="P" * 31,
        )
