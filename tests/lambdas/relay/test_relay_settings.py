"""Configuration from the environment: defaults, and errors that name the variable and the fix."""

from __future__ import annotations

from typing import cast

import pytest

from relay.app import create_app
from relay.backends.base import Backend
from relay.catalog import MODELS, Routing, by_alias
from relay.core import Routes
from relay.keys import StaticKeys
from relay.settings import AuthMode, ConfigError, Settings, key_digest


def NO_BACKENDS(kind: str, region: str) -> Backend:
    """Planning names backends but calls none of them."""
    return cast(Backend, f"{kind}/{region}")


BASE = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_API_KEYS": "k1, k2"}


def test_defaults_serve_every_routable_model_through_global_profiles() -> None:
    settings = Settings.from_env(BASE)
    assert settings.routing is Routing.GLOBAL
    assert settings.models is None
    routes = Routes.plan(settings, NO_BACKENDS)
    assert all(m.served for m in routes.models())
    assert by_alias("claude-haiku-4-5") in routes.models()


def test_keys_are_kept_only_as_digests() -> None:
    settings = Settings.from_env(BASE)
    assert settings.key_digests == {key_digest("k1"), key_digest("k2")}
    keys = StaticKeys(settings.key_digests)
    assert keys.find(key_digest("k2")) is not None
    assert keys.find(key_digest("k3")) is None


def test_aws_region_is_the_fallback_bedrock_region() -> None:
    settings = Settings.from_env({"AWS_REGION": "eu-west-1", "RELAY_API_KEYS": "k"})
    assert settings.bedrock_region == "eu-west-1"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RELAY_API_KEYS": "k"}, "RELAY_BEDROCK_REGION"),
        ({"RELAY_BEDROCK_REGION": "us-east-1"}, "RELAY_API_KEYS"),
        ({**BASE, "RELAY_ROUTING": "fastest"}, "RELAY_ROUTING"),
        ({**BASE, "RELAY_AUTH": "none"}, "RELAY_AUTH"),
        ({**BASE, "RELAY_MODELS": "claude-9"}, "RELAY_MODELS"),
        ({**BASE, "RELAY_READ_TIMEOUT": "soon"}, "RELAY_READ_TIMEOUT"),
        ({**BASE, "RELAY_MAX_BODY_BYTES": "-1"}, "RELAY_MAX_BODY_BYTES"),
        ({**BASE, "RELAY_GUARDRAIL_ID": "abc"}, "RELAY_GUARDRAIL_VERSION"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_unknown_model_error_lists_the_catalog_aliases() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**BASE, "RELAY_MODELS": "claude-9"})
    assert all(m.alias in str(raised.value) for m in MODELS)


def test_api_gateway_auth_needs_a_table_or_listed_keys() -> None:
    gateway = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_AUTH": "api-gateway"}
    with pytest.raises(ConfigError, match="RELAY_UNLIMITED_KEY_IDS"):
        Settings.from_env(gateway)
    settings = Settings.from_env({**gateway, "RELAY_TABLE_NAME": "keys"})
    assert settings.auth is AuthMode.API_GATEWAY
    listed = Settings.from_env({**gateway, "RELAY_UNLIMITED_KEY_IDS": "rk_1, rk_2"})
    assert listed.unlimited_key_ids == {"rk_1", "rk_2"}


def test_a_named_model_that_cannot_be_routed_stops_the_start() -> None:
    retired = next(m for m in MODELS if not m.served)
    settings = Settings.from_env({**BASE, "RELAY_MODELS": retired.alias})
    with pytest.raises(ConfigError, match="end of life"):
        create_app(settings)


def test_in_region_routing_where_only_some_models_are_in_region_serves_those() -> None:
    settings = Settings.from_env({**BASE, "RELAY_ROUTING": "in-region"})
    served = Routes.plan(settings, NO_BACKENDS).models()
    assert served
    assert all("us-east-1" in m.bedrock_in_region for m in served)


def test_a_region_that_reaches_no_model_stops_the_start() -> None:
    settings = Settings.from_env({**BASE, "RELAY_BEDROCK_REGION": "ap-east-1"})
    with pytest.raises(ConfigError, match="no way to serve"):
        Routes.plan(settings, NO_BACKENDS)
