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


def test_a_router_rule_naming_an_undeployed_model_fails_synthesis_naming_the_rule() -> None:
    routers = {"auto": {"default": DEFAULT_MODEL.alias, "rules": [
        {"name": "hard", "model": OPUS_4_6.alias, "when": {"thinking": True}}
    ]}}  # fmt: skip
    expected = (
        r"relaykit\.routers\['auto'\]\.rules\[0\] \('hard'\): model 'claude-opus-4-6': "
        "not deployed on the primary relay"
    )
    with pytest.raises(ConfigError, match=expected):
        _load(routers=json.dumps(routers))
    config = _load(routers=json.dumps(routers), models=f"{DEFAULT_MODEL.alias},{OPUS_4_6.alias}")
    assert config.settings.routers == routers


def test_a_bad_router_regex_and_an_undeployed_downgrade_fail_synthesis() -> None:
    routers = {"auto": {"default": DEFAULT_MODEL.alias, "rules": [
        {"name": "r", "model": DEFAULT_MODEL.alias, "when": {"prompt_matches": "["}}
    ]}}  # fmt: skip
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        _load(routers=json.dumps(routers))
    with pytest.raises(ConfigError, match=r"relaykit\.budgetDowngrade: 'claude-opus-4-6'"):
        _load(budgetDowngrade=OPUS_4_6.alias)
