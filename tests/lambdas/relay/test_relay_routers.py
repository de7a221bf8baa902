"""Router models through the simulator: the rule that matched picks the served model and is
named in `x-relay-route`, for Messages (plain and streamed), count_tokens and Chat Completions."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from relay_harness import Relay, start_relay
from relay_wire import HEADERS, KEY, user

from relay.catalog import by_alias
from relay.core import Routes, plan_message
from relay.errors import ApiError
from relay.keys import ApiKey
from relay.log import logger
from relay.routers import Facts, RouterError, parse_routers
from relay.settings import ConfigError, Settings, key_digest
from relaykit.simulator import SimulatorServer

HAIKU, SONNET = by_alias("claude-haiku-4-5"), by_alias("claude-sonnet-4-5")
ROUTERS = {
    "claude-auto": {
        "default": "claude-sonnet-4-5",
        "rules": [
            {
                "name": "long-tools",
                "model": "claude-sonnet-4-5",
                "when": {"tools": True, "min_input_tokens": 1000},
            },
            {"name": "short", "model": "claude-haiku-4-5", "when": {"max_input_tokens": 200}},
        ],
    }
}
TOOL = {"name": "lookup", "description": "Look a word up.", "input_schema": {"type": "object"}}


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    with SimulatorServer() as simulator:
        server = start_relay(simulator, routers=parse_routers(ROUTERS), retry_attempts=1)
        try:
            yield Relay(server.url, simulator)
        finally:
            server.stop()


def test_a_short_prompt_goes_to_haiku_named_by_its_rule(relay: Relay) -> None:
    raw = relay.client().messages.with_raw_response.create(
        model="claude-auto", max_tokens=20, messages=user("hi there")
    )
    assert raw.headers["x-relay-route"] == "claude-auto/short"
    assert raw.parse().model == HAIKU.anthropic_id
    assert HAIKU.bedrock_id in raw.headers["x-relay-model-id"]


def test_a_long_prompt_with_tools_goes_to_sonnet(relay: Relay) -> None:
    with relay.client().messages.stream(
        model="claude-auto",
        max_tokens=20,
        tools=[TOOL],  # type: ignore[list-item]
        messages=user("look this up: " + "word " * 600),
    ) as stream:
        assert stream.response.headers["x-relay-route"] == "claude-auto/long-tools"
        message = stream.get_final_message()
    assert message.model == SONNET.anthropic_id


def test_no_rule_matching_takes_the_default(relay: Relay) -> None:
    raw = relay.client().messages.with_raw_response.create(
        model="claude-auto", max_tokens=20, messages=user("word " * 600)
    )
    assert raw.headers["x-relay-route"] == "claude-auto/default"
    assert raw.parse().model == SONNET.anthropic_id


def test_count_tokens_follows_the_same_rule(relay: Relay) -> None:
    raw = relay.client().messages.with_raw_response.count_tokens(
        model="claude-auto", messages=user("hi there")
    )
    assert raw.headers["x-relay-route"] == "claude-auto/short"
    assert raw.parse().input_tokens > 0


def test_chat_completions_are_routed_too(relay: Relay) -> None:
    reply = httpx.post(
        f"{relay.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "claude-auto", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-relay-route"] == "claude-auto/short"
    assert reply.json()["model"] == HAIKU.anthropic_id


def test_routers_are_listed_as_models_in_both_shapes(relay: Relay) -> None:
    anthropic_list = httpx.get(f"{relay.url}/v1/models", headers=HEADERS).json()["data"]
    router = next(m for m in anthropic_list if m["id"] == "claude-auto")
    assert router["routes_to"] == [SONNET.anthropic_id, HAIKU.anthropic_id]
    openai_list = httpx.get(f"{relay.url}/v1/models", headers={"authorization": f"Bearer {KEY}"})
    assert "claude-auto" in [m["id"] for m in openai_list.json()["data"]]
    one = httpx.get(f"{relay.url}/v1/models/claude-auto", headers=HEADERS)
    assert one.json()["router"] is True


def _settings(routers: dict[str, Any], **settings: object) -> Settings:
    return Settings(
        bedrock_region="us-east-1",
        key_digests=frozenset({key_digest(KEY)}),
        routers=parse_routers(routers),
        **settings,  # type: ignore[arg-type]
    )


def _plan_routes(routers: dict[str, Any], **settings: object) -> Routes:
    config = _settings(routers, **settings)
    return Routes.plan(config, lambda kind, region: None)  # type: ignore[arg-type,return-value]


def test_a_keys_model_permissions_apply_to_the_model_the_router_picks() -> None:
    settings, routes = _settings(ROUTERS), _plan_routes(ROUTERS)
    key = ApiKey("rk_haiku_only", "team-h", models=frozenset({HAIKU.anthropic_id}))
    short = {"model": "claude-auto", "max_tokens": 5, "messages": user("hi")}
    assert plan_message(short, [], settings, routes, key).model == HAIKU
    long = {**short, "messages": user("word " * 600)}
    with pytest.raises(ApiError, match=f"may not use {SONNET.anthropic_id}"):
        plan_message(long, [], settings, routes, key)


def test_a_bad_regex_is_refused_at_start_naming_the_rule() -> None:
    bad = {"r": {"default": "claude-haiku-4-5", "rules": [
        {"name": "hard", "model": "claude-opus-4-6", "when": {"prompt_matches": "(unclosed"}}
    ]}}  # fmt: skip
    with pytest.raises(RouterError, match=r"RELAY_ROUTERS\['r'\]\.rules\[0\] \('hard'\): "
                       r"when\.prompt_matches: not a valid regular expression"):  # fmt: skip
        parse_routers(bad)


def test_an_unknown_condition_is_refused_naming_the_rule_and_the_known_ones() -> None:
    bad = {"r": {"default": "claude-haiku-4-5", "rules": [
        {"name": "big", "model": "claude-opus-4-6", "when": {"max_prompt": 3}}
    ]}}  # fmt: skip
    with pytest.raises(RouterError, match=r"rules\[0\] \('big'\): when\.max_prompt: unknown "
                       r"field; known: min_input_tokens"):  # fmt: skip
        parse_routers(bad)


def test_a_model_the_relay_does_not_serve_is_refused_naming_the_rule() -> None:
    routers = {"r": {"default": "claude-haiku-4-5", "rules": [
        {"name": "big", "model": "claude-opus-4-6"}
    ]}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"RELAY_ROUTERS\['r'\]\.rules\[0\] \('big'\): model "
                       r"'claude-opus-4-6': not served here"):  # fmt: skip
        _plan_routes(routers, models=(HAIKU,))


def test_a_router_named_like_a_served_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="the name of a served model"):
        _plan_routes({"claude-haiku-4-5": {"default": "claude-haiku-4-5"}})


def test_the_baseline_is_the_dearest_model_a_router_can_pick() -> None:
    routes = _plan_routes(ROUTERS)
    assert routes.baselines["claude-auto"] == SONNET


def test_facts_see_images_documents_thinking_and_the_key_owner() -> None:
    body = {
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "tool_result", "tool_use_id": "t", "content": [
                    {"type": "document", "source": {"type": "text", "data": "x"}}
                ]},
                {"type": "text", "text": "please prove it"},
            ]},
        ],
    }  # fmt: skip
    facts = Facts.of(body, "team-a")
    assert (facts.images, facts.documents, facts.thinking, facts.tools) == (True, True, True, False)
    assert facts.last_user_text == "please prove it"
    routers = parse_routers({"r": {"default": "claude-haiku-4-5", "rules": [
        {"name": "hard", "model": "claude-opus-4-6",
         "when": {"prompt_matches": "(?i)prove", "owners": ["team-a"], "min_max_tokens": 2000}},
    ]}})  # fmt: skip
    decided = routers.decide("r", body, "team-a")
    assert decided is not None
    assert decided.label == "r/hard"
    other = routers.decide("r", body, "team-b")
    assert other is not None
    assert other.label == "r/default"


def test_the_request_line_and_usage_record_name_the_route_never_the_prompt(relay: Relay) -> None:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        relay.client().messages.create(
            model="claude-auto", max_tokens=20, messages=user("pelican-umbrella-7731")
        )
    finally:
        handler.setStream(previous)
    written = stream.getvalue()
    (line,) = [json.loads(x) for x in written.splitlines() if '"message":"request"' in x]
    assert line["route"] == "claude-auto/short"
    assert line["usage"]["route"] == "claude-auto/short"
    assert line["usage"]["requested"] == "claude-auto"
    assert line["usage"]["asked_model"] == SONNET.anthropic_id  # the router's baseline
    assert "pelican-umbrella" not in written
