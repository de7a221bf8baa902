"""Which model serves a name a client sends: served names, the operator's aliases, the family
rule, the error that says how to fix the rest; mid-conversation system messages; /v1/models."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from typing import Any

import anthropic
import httpx
import pytest
from relay_wire import HEADERS, KEY, user

from relay.aliases import AliasError, aliased, family_of, parse_alias_flags, parse_aliases
from relay.catalog import HAIKU_4_5, OPUS_4_6, OPUS_5_5, SONNET_4_6, by_alias
from relay.core import Routes
from relay.errors import ApiError
from relay.log import logger
from relay.settings import ConfigError, Settings

NO_BACKENDS: Any = lambda kind, region: None  # noqa: E731 (routes are only planned here)


def routes(**settings: Any) -> Routes:
    config = Settings(bedrock_region="us-east-1", key_digests=frozenset({"x"}), **settings)
    return Routes.plan(config, NO_BACKENDS)


def served_as(table: Routes, name: str) -> tuple[str, str | None]:
    chain, warning = table.chain(name)
    return chain[0].model.alias, warning


# --- the alias map and the family rule ---------------------------------------------------------


def test_a_wildcard_alias_serves_an_unserved_name_with_a_warning() -> None:
    table = routes(model_aliases=(("claude-opus-*", SONNET_4_6.alias),), family_aliases=False)
    model, warning = served_as(table, "claude-opus-9")
    assert model == SONNET_4_6.alias
    assert warning is not None
    assert "claude-opus-9" in warning
    assert SONNET_4_6.anthropic_id in warning


def test_a_served_name_wins_over_a_matching_alias() -> None:
    table = routes(model_aliases=(("claude-opus-*", SONNET_4_6.alias),))
    assert served_as(table, OPUS_4_6.alias) == (OPUS_4_6.alias, None)


def test_the_first_matching_alias_wins() -> None:
    pairs = (("claude-x-*", HAIKU_4_5.alias), ("claude-*", SONNET_4_6.alias))
    assert aliased(pairs, "claude-x-1") == HAIKU_4_5.alias
    assert aliased(pairs, "claude-y") == SONNET_4_6.alias
    assert aliased(pairs, "gpt-4o") is None


def test_star_is_the_only_wildcard() -> None:
    assert aliased((("claude-?", "m"),), "claude-x") is None
    assert aliased((("claude-[x]", "m"),), "claude-x") is None
    assert aliased((("claude.*", "m"),), "claudeXfoo") is None
    assert aliased((("claude.*", "m"),), "claude.foo") == "m"


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("opus", "opus"),
        ("sonnet", "sonnet"),
        ("haiku", "haiku"),
        ("claude-opus-5-5", "opus"),
        ("claude-sonnet-9-20990101", "sonnet"),
        ("claude-haiku-7", "haiku"),
        ("gpt-4o", None),
        ("claude-opus", None),
        ("Opus", None),
    ],
)
def test_the_family_rule_covers_family_ids_and_short_names(name: str, family: str | None) -> None:
    assert family_of(name) == family


def test_the_family_rule_serves_the_newest_served_model_of_the_family() -> None:
    table = routes()
    # Opus 5.5 is in the catalog but not routable from us-east-1; Opus 4.6 is the newest served.
    assert table.served_chain(OPUS_5_5.alias) is None
    assert served_as(table, "opus")[0] == OPUS_4_6.alias
    assert served_as(table, OPUS_5_5.alias)[0] == OPUS_4_6.alias
    assert served_as(table, "claude-sonnet-9")[0] == SONNET_4_6.alias
    assert served_as(table, "haiku")[0] == HAIKU_4_5.alias


def test_the_family_rule_picks_only_among_the_models_the_caller_may_use() -> None:
    chain, _ = routes().chain("sonnet", lambda model: model.alias == "claude-sonnet-4-5")
    assert chain[0].model.alias == "claude-sonnet-4-5"
    # A key that may use none of the family gets the newest served one (and then its 403).
    chain, _ = routes().chain("sonnet", lambda model: False)
    assert chain[0].model.alias == SONNET_4_6.alias


def test_the_family_rule_picks_only_among_the_models_served() -> None:
    table = routes(models=(by_alias("claude-sonnet-4-5"), HAIKU_4_5))
    assert served_as(table, "sonnet")[0] == "claude-sonnet-4-5"
    with pytest.raises(ApiError, match="unknown model 'opus'"):
        table.chain("opus")
    with pytest.raises(ApiError, match="not enabled") as raised:
        table.chain(OPUS_4_6.alias)
    assert "claude-sonnet-4-5" in raised.value.message


def test_the_operator_can_turn_the_family_rule_off() -> None:
    env = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_API_KEYS": KEY}
    settings = Settings.from_env({**env, "RELAY_FAMILY_ALIASES": "off"})
    table = Routes.plan(settings, NO_BACKENDS)
    with pytest.raises(ApiError, match="unknown model 'opus'"):
        table.chain("opus")
    assert Settings.from_env(env).family_aliases is True
    with pytest.raises(ConfigError, match="RELAY_FAMILY_ALIASES"):
        Settings.from_env({**env, "RELAY_FAMILY_ALIASES": "maybe"})


def test_aliases_are_read_from_the_environment_in_order() -> None:
    env = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_API_KEYS": KEY}
    raw = json.dumps({"claude-opus-*": OPUS_4_6.alias, "*": HAIKU_4_5.alias})
    settings = Settings.from_env({**env, "RELAY_MODEL_ALIASES": raw})
    assert settings.model_aliases == (("claude-opus-*", OPUS_4_6.alias), ("*", HAIKU_4_5.alias))
    assert served_as(Routes.plan(settings, NO_BACKENDS), "gpt-4o")[0] == HAIKU_4_5.alias


@pytest.mark.parametrize("raw", ["{", "[]", '{"a": 1}', '{"": "x"}'])
def test_a_bad_alias_map_is_a_config_error_naming_the_variable(raw: str) -> None:
    env = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_API_KEYS": KEY, "RELAY_MODEL_ALIASES": raw}
    with pytest.raises(ConfigError, match="RELAY_MODEL_ALIASES"):
        Settings.from_env(env)


def test_an_alias_to_a_model_not_served_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="not a model this relay serves"):
        routes(model_aliases=(("x-*", OPUS_5_5.alias),))


def test_alias_flags_are_pattern_equals_model() -> None:
    assert parse_alias_flags(["claude-opus-*=opus-x"]) == (("claude-opus-*", "opus-x"),)
    with pytest.raises(AliasError, match="PATTERN=MODEL"):
        parse_alias_flags(["claude-opus-*"])
    assert parse_aliases("", "X") == ()


# --- through the relay -------------------------------------------------------------------------


def post(relay: Any, body: dict[str, Any], path: str = "/v1/messages") -> httpx.Response:
    return httpx.post(relay.url + path, json=body, headers=HEADERS, timeout=30)


def test_a_family_id_is_served_with_a_warning_header_and_the_served_id(relay) -> None:
    raw = relay.client().messages.with_raw_response.create(
        model=OPUS_5_5.alias, max_tokens=20, messages=user("hi")
    )
    message = raw.parse()
    assert message.model == OPUS_4_6.anthropic_id
    assert OPUS_5_5.alias in raw.headers["warning"]
    assert OPUS_4_6.anthropic_id in raw.headers["warning"]


def test_an_unserved_model_is_refused_naming_it_what_is_served_and_the_fixes(relay) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        relay.client().messages.create(model="gpt-4o", max_tokens=10, messages=user("x"))
    message = raised.value.message
    assert "unknown model 'gpt-4o'" in message
    assert HAIKU_4_5.alias in message
    assert OPUS_4_6.alias in message
    for fix in (
        "--model",
        "ANTHROPIC_MODEL",
        "ANTHROPIC_DEFAULT_OPUS_MODEL",
        "ANTHROPIC_DEFAULT_SONNET_MODEL",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL",
        "RELAY_MODEL_ALIASES",
    ):
        assert fix in message
    assert relay.reached_backend() == 0


def test_the_model_is_checked_before_the_roles(relay) -> None:
    body = {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]}
    response = post(relay, body)
    assert response.status_code == 400
    assert "unknown model 'gpt-4o'" in response.json()["error"]["message"]


def test_a_bad_role_is_still_refused_for_a_served_model(relay) -> None:
    body = {
        "model": HAIKU_4_5.alias,
        "max_tokens": 10,
        "messages": [{"role": "tool", "content": "x"}],
    }
    response = post(relay, body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.0.role: Unexpected role")


def test_the_request_log_line_names_the_requested_and_the_served_model(relay) -> None:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    lines = io.StringIO()
    held = handler.setStream(lines)
    try:
        relay.client().messages.create(model="opus", max_tokens=10, messages=user("x"))
        # The line is written once the response has gone out.
        deadline = time.monotonic() + 5
        while '"request"' not in lines.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        handler.setStream(held)
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    line = next(entry for entry in logged if entry.get("message") == "request")
    assert line["requested_model"] == "opus"
    assert line["model"] == OPUS_4_6.alias


# --- mid-conversation system messages ----------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_a_mid_conversation_system_message_reaches_the_provider_in_place(
    relay, bedrock_bodies
) -> None:
    messages = [
        {"role": "system", "content": "lead"},
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
        {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
    ]
    reply = post(relay, {"model": HAIKU_4_5.alias, "max_tokens": 50, "messages": messages})
    assert reply.status_code == 200, reply.text
    [body] = bedrock_bodies
    assert body["system"] == [{"type": "text", "text": "lead"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    last = body["messages"][-1]["content"]
    assert last[0] == {"type": "text", "text": "again"}
    assert last[1]["text"] == "<system-reminder>\nbe brief\n</system-reminder>"
    # The simulator describes the last user turn it got: both texts, in order.
    seen = "again <system-reminder>\nbe brief\n</system-reminder>"
    assert _digest(seen) in reply.json()["content"][0]["text"]


def test_a_system_message_after_an_assistant_turn_leads_the_next_user_turn(
    relay, bedrock_bodies
) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}
    messages = [
        {"role": "user", "content": "compute"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {}}],
        },
        {"role": "system", "content": "the tool is slow"},
        {"role": "user", "content": [result, {"type": "text", "text": "thanks"}]},
    ]
    tools = [{"name": "calc", "input_schema": {"type": "object", "properties": {}}}]
    body = {"model": HAIKU_4_5.alias, "max_tokens": 50, "messages": messages, "tools": tools}
    reply = post(relay, body)
    assert reply.status_code == 200, reply.text
    last = bedrock_bodies[0]["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "text", "text"]
    assert "the tool is slow" in last[1]["text"]
    assert last[2]["text"] == "thanks"


def test_only_system_messages_is_refused(relay) -> None:
    body = {
        "model": HAIKU_4_5.alias,
        "max_tokens": 5,
        "messages": [{"role": "system", "content": "x"}],
    }
    response = post(relay, body)
    assert response.status_code == 400
    assert "at least one user or assistant message" in response.json()["error"]["message"]


def test_a_system_message_with_a_non_text_block_is_refused(relay) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    messages = [{"role": "user", "content": "x"}, {"role": "system", "content": [image]}]
    response = post(relay, {"model": HAIKU_4_5.alias, "max_tokens": 5, "messages": messages})
    assert response.status_code == 400
    assert "text blocks only" in response.json()["error"]["message"]


# --- /v1/models --------------------------------------------------------------------------------


def test_models_say_what_the_relay_invokes(relay) -> None:
    page = httpx.get(relay.url + "/v1/models", headers=HEADERS).json()
    haiku = next(m for m in page["data"] if m["id"] == HAIKU_4_5.anthropic_id)
    assert haiku["invokes"] == f"global.{HAIKU_4_5.bedrock_id}"
    assert haiku["backend"] == "bedrock/us-east-1"
    assert haiku["structured_outputs"] == "native"
    assert haiku["created_at"] == "2025-10-15T00:00:00Z"
    assert all(not m["created_at"].startswith("1970") for m in page["data"])
    openai_page = httpx.get(relay.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"})
    assert {m["id"] for m in openai_page.json()["data"]} == {m["id"] for m in page["data"]}
