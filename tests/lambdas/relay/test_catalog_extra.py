"""Extending the catalog without a release: RELAY_CATALOG_EXTRA, validated field by field, read
alike by the relay, the CDK config (and so its IAM grants) and `relaykit models`."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from relay_harness import start_relay
from relay_wire import HEADERS, KEY

from relay.catalog import CATALOG, OPUS_4_6, SONNET_5_5, Geography, Lifecycle, Routing
from relay.catalog_extra import CatalogExtraError, parse_catalog_extra
from relay.settings import ConfigError, Settings
from relay.targets import bedrock_target
from relaykit.cli import main
from relaykit.simulator import SimulatorServer
from relaykit.simulator.models import ModelResolver

# Also the CDK config's test (tests/stacks/aws/test_aws_config.py) adds this model.
SOURCE = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-x.html"
OPUS_4_8 = {
    "base": OPUS_4_6.alias,
    "name": "Claude Opus 4.8",
    "bedrock_id": "anthropic.claude-opus-4-8",
    "released": "2026-11-20",
    "mid_conversation_system": True,
    "inference_profiles": {"global": ["us-east-1"], "us": ["us-east-1", "us-west-2"]},
    "source": SOURCE,
}
# Sonnet 5.5 ships with no Bedrock region data; an operator fills it in.
SONNET_5_5_PROFILES = {"inference_profiles": {"global": ["us-east-1"]}, "source": SOURCE}


def extended(data: dict[str, Any]) -> Any:
    return parse_catalog_extra(json.dumps(data), "RELAY_CATALOG_EXTRA")


def test_a_new_model_from_a_base_copies_the_base_and_takes_the_given_facts() -> None:
    catalog = extended({"claude-opus-4-8": OPUS_4_8})
    model = catalog.by_alias("claude-opus-4-8")
    assert model.anthropic_id == "claude-opus-4-8"
    assert model.prices == OPUS_4_6.prices
    assert model.max_output_tokens == OPUS_4_6.max_output_tokens
    assert model.released == date(2026, 11, 20)
    assert model.mid_conversation_system is True
    assert model.lifecycle_source == SOURCE
    assert [p.geography for p in model.inference_profiles] == [Geography.GLOBAL, Geography.US]
    assert model.profile(Geography.US) is not None
    assert "us-west-2" in model.profile(Geography.US).destination_regions  # type: ignore[union-attr]
    # The base is untouched and still found by its own names.
    assert catalog.by_alias(OPUS_4_6.alias) is OPUS_4_6
    assert catalog.resolve("global.anthropic.claude-opus-4-8").model is model


def test_a_shipped_alias_overrides_only_the_given_facts() -> None:
    catalog = extended({SONNET_5_5.alias: SONNET_5_5_PROFILES})
    model = catalog.by_alias(SONNET_5_5.alias)
    assert model.inference_profiles[0].source_regions == ("us-east-1",)
    assert model.prices == SONNET_5_5.prices
    assert [m.alias for m in catalog.models] == [m.alias for m in CATALOG.models]


def test_a_new_model_from_scratch_needs_its_core_facts() -> None:
    with pytest.raises(CatalogExtraError, match=r"claude-x-1: a new model needs name, bedrock_id"):
        extended({"claude-x-1": {"source": SOURCE}})
    prices = dict.fromkeys(
        ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"), "1"
    )
    facts = {
        "name": "Claude X",
        "bedrock_id": "anthropic.claude-x-1",
        "context_window": 200_000,
        "max_output_tokens": 64_000,
        "prices": prices,
        "source": SOURCE,
    }
    model = extended({"claude-x-1": facts}).by_alias("claude-x-1")
    assert model.prices.input == Decimal("1")
    assert model.lifecycle is Lifecycle.ACTIVE
    assert model.inference_profiles == ()


@pytest.mark.parametrize(
    ("facts", "where"),
    [
        ({**OPUS_4_8, "max_output_tokens": 0}, "claude-opus-4-8.max_output_tokens"),
        ({**OPUS_4_8, "prices": {"input": "x"}}, "claude-opus-4-8.prices.input"),
        (
            {**OPUS_4_8, "inference_profiles": {"mars": []}},
            "claude-opus-4-8.inference_profiles.mars",
        ),
        ({**OPUS_4_8, "colour": "red"}, "claude-opus-4-8.colour"),
        ({k: v for k, v in OPUS_4_8.items() if k != "source"}, "claude-opus-4-8.source"),
        ({**OPUS_4_8, "base": "claude-nope"}, "claude-opus-4-8.base"),
    ],
)
def test_errors_name_the_field(facts: dict[str, Any], where: str) -> None:
    with pytest.raises(CatalogExtraError) as raised:
        extended({"claude-opus-4-8": facts})
    assert str(raised.value).startswith(f"RELAY_CATALOG_EXTRA.{where}")


def test_the_relay_settings_read_it_and_name_the_variable_on_errors() -> None:
    env = {
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_API_KEYS": KEY,
        "RELAY_CATALOG_EXTRA": json.dumps({"claude-opus-4-8": OPUS_4_8}),
        "RELAY_MODELS": "claude-opus-4-8",
    }
    settings = Settings.from_env(env)
    assert settings.models is not None
    assert settings.models[0].bedrock_id == "anthropic.claude-opus-4-8"
    with pytest.raises(ConfigError, match="RELAY_CATALOG_EXTRA is not valid JSON"):
        Settings.from_env({**env, "RELAY_CATALOG_EXTRA": "{"})


def test_the_relay_serves_an_added_model_from_its_own_profile() -> None:
    catalog = extended({"claude-opus-4-8": OPUS_4_8})
    with SimulatorServer() as simulator:
        simulator.state.models = ModelResolver(catalog.models)
        server = start_relay(simulator, catalog=catalog)
        try:
            body = {
                "model": "claude-opus-4-8",
                "max_tokens": 20,
                "messages": [{"role": "user", "content": "hi"}],
            }
            reply = httpx.post(f"{server.url}/v1/messages", json=body, headers=HEADERS)
            listed = httpx.get(f"{server.url}/v1/models", headers=HEADERS).json()["data"]
            short = httpx.post(
                f"{server.url}/v1/messages", json={**body, "model": "opus"}, headers=HEADERS
            )
            # This model takes mid-conversation system messages: they pass as sent.
            system = [*body["messages"], {"role": "system", "content": "be brief"}]
            passed = httpx.post(
                f"{server.url}/v1/messages", json={**body, "messages": system}, headers=HEADERS
            )
        finally:
            server.stop()
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == "claude-opus-4-8"
    assert reply.headers["x-relay-model-id"] == "global.anthropic.claude-opus-4-8"
    added = next(m for m in listed if m["id"] == "claude-opus-4-8")
    assert added["created_at"] == "2026-11-20T00:00:00Z"
    assert passed.status_code == 200, passed.text
    # The family rule now finds the added Opus the newest.
    assert short.json()["model"] == "claude-opus-4-8"


def test_relaykit_models_lists_the_added_model(capsys, monkeypatch) -> None:
    assert main(["models", "--json"]) == 0
    assert "anthropic.claude-opus-4-8" not in capsys.readouterr().out
    monkeypatch.setenv("RELAY_CATALOG_EXTRA", json.dumps({"claude-opus-4-8": OPUS_4_8}))
    assert main(["models", "--json"]) == 0
    assert "anthropic.claude-opus-4-8" in capsys.readouterr().out


def test_an_added_model_routes_like_a_shipped_one() -> None:
    model = extended({"claude-opus-4-8": OPUS_4_8}).by_alias("claude-opus-4-8")
    target = bedrock_target(model, "us-west-2", Routing.GEOGRAPHIC)
    assert target.model_id == "us.anthropic.claude-opus-4-8"
