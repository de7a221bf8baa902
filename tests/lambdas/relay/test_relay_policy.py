"""The field and beta-flag policy, replayed with the request shape Claude Code sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_wire import KEY

from relay.errors import ApiError
from relay.policy import BEDROCK_ANTHROPIC_VERSION, BETAS, FIELDS, NESTED, Action, prepare

TOOL_SEARCH = "tool-search-tool-2025-10-19"
CONTEXT_MANAGEMENT = "context-management-2025-06-27"
EFFORT = "effort-2025-11-24"

FIXTURE = Path(__file__).parents[2] / "fixtures"
CLAUDE_CODE = json.loads((FIXTURE / "claude-code-2.1.331-request-shape.json").read_text())


def claude_code_request() -> tuple[dict[str, Any], list[str]]:
    return copy.deepcopy(CLAUDE_CODE["body"]), [CLAUDE_CODE["headers"]["anthropic-beta"]]


def test_model_and_stream_leave_the_body_and_the_bedrock_version_is_set() -> None:
    body, betas = claude_code_request()
    prepared = prepare(body, betas)
    assert "model" not in prepared.body
    assert "stream" not in prepared.body
    assert prepared.body["anthropic_version"] == BEDROCK_ANTHROPIC_VERSION


def test_claude_code_betas_are_passed_mapped_or_dropped_by_name() -> None:
    body, betas = claude_code_request()
    prepared = prepare(body, betas)
    assert prepared.betas == (
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        BETAS["advanced-tool-use-2025-11-20"].to,
    )
    assert prepared.body["anthropic_beta"] == list(prepared.betas)
    assert "beta:claude-code-20250219" in prepared.dropped
    assert "beta:thinking-token-count-2026-05-13" in prepared.dropped


def test_claude_code_fields_follow_the_policy() -> None:
    body, betas = claude_code_request()
    prepared = prepare(body, betas)
    assert "metadata" not in prepared.body
    assert "metadata" in prepared.dropped
    assert prepared.body["context_management"] == body["context_management"]
    assert prepared.body["thinking"] == {"type": "enabled", "budget_tokens": 31999}
    # display: omitted is emulated (the reply's thinking text is emptied), not dropped.
    assert prepared.omit_thinking is True
    assert "thinking.display" not in prepared.dropped
    assert prepared.body["system"] == body["system"]
    assert prepared.body["tools"] == body["tools"]


def test_defer_loading_brings_the_tool_search_beta() -> None:
    body, _ = claude_code_request()
    prepared = prepare(body, [])
    assert any("defer_loading" in tool for tool in prepared.body["tools"])
    assert TOOL_SEARCH in prepared.betas
    assert TOOL_SEARCH in prepared.body["anthropic_beta"]


def test_context_management_without_its_beta_gets_the_beta() -> None:
    body, _ = claude_code_request()
    prepared = prepare(body, ["claude-code-20250219"])
    assert prepared.body["context_management"] == body["context_management"]
    assert CONTEXT_MANAGEMENT in prepared.body["anthropic_beta"]


def test_unknown_fields_pass_to_bedrock_and_unknown_flags_are_dropped_and_named() -> None:
    prepared = prepare(
        {"max_tokens": 5, "messages": [], "brand_new_field": {"x": 1}}, ["brand-new-2030-01-01"]
    )
    assert prepared.body["brand_new_field"] == {"x": 1}
    assert prepared.dropped == ("beta:brand-new-2030-01-01",)


# --- every field against the rule ---------------------------------------------------------------

# A value for every field of the table, as a client sends it.
SAMPLES: dict[str, object] = {
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "x"}],
    "system": "be brief",
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 5,
    "stop_sequences": ["END"],
    "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    "output_format": {"type": "json_schema", "schema": {"type": "object"}},
    "metadata": {"user_id": "u-1"},
    "service_tier": "auto",
    "inference_geo": "us",
    "mcp_servers": [{"type": "url", "url": "https://example.com", "name": "x"}],
    "container": "container_1",
}
# Fields that change nothing a caller can observe of the reply: the only ones that may be dropped.
UNOBSERVABLE = {"metadata", "service_tier"}


def test_every_field_of_the_policy_has_a_sample() -> None:
    assert set(SAMPLES) == set(FIELDS)


def test_only_fields_without_an_observable_effect_are_dropped() -> None:
    dropped = {name for name, rule in FIELDS.items() if rule.action is Action.DROP}
    assert dropped == UNOBSERVABLE


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_each_field_follows_its_rule(name: str) -> None:
    rule = FIELDS[name]
    value = SAMPLES[name]
    request = {"max_tokens": 5, "messages": [], name: value}
    if rule.action is Action.REJECT:
        with pytest.raises(ApiError) as raised:
            prepare(request, [])
        # The 400 says why and what to do.
        assert raised.value.message.startswith(f"{name}: ")
        assert rule.why in raised.value.message
        return
    prepared = prepare(request, [])
    if rule.action is Action.PASS:
        assert prepared.body[name] == value
        assert name not in prepared.dropped
    elif rule.action is Action.MAP:
        parent, _, key = rule.to.partition(".")
        assert prepared.body[parent][key] == value
        assert name not in prepared.body
    else:
        assert rule.action is Action.DROP
        assert name not in prepared.body
        assert name in prepared.dropped
    if rule.needs_beta:
        assert rule.needs_beta in prepared.betas


def test_a_refused_field_asking_for_nothing_special_is_dropped() -> None:
    for harmless in (None, "global"):
        prepared = prepare({"max_tokens": 5, "inference_geo": harmless}, [])
        assert "inference_geo" in prepared.dropped


def test_effort_brings_its_beta_and_format_alone_needs_none() -> None:
    effort = prepare({"max_tokens": 5, "output_config": {"effort": "low"}}, [])
    assert EFFORT in effort.betas
    fmt = prepare({"max_tokens": 5, "output_config": SAMPLES["output_config"]}, [])
    assert fmt.betas == ()


def test_output_format_and_output_config_format_together_are_refused() -> None:
    both = {"max_tokens": 5, "output_config": SAMPLES["output_config"]}
    with pytest.raises(ApiError, match="not both"):
        prepare({**both, "output_format": SAMPLES["output_format"]}, [])


def test_output_format_keeps_the_other_output_config_keys() -> None:
    request = {"output_config": {"effort": "low"}, "output_format": SAMPLES["output_format"]}
    prepared = prepare({"max_tokens": 5, **request}, [])
    assert prepared.body["output_config"] == {"effort": "low", "format": SAMPLES["output_format"]}


@pytest.mark.parametrize(("display", "omitted"), [("omitted", True), ("summarized", False)])
def test_thinking_display_is_taken_out_and_omitted_is_emulated(display: str, omitted: bool) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024, "display": display}
    prepared = prepare({"max_tokens": 2000, "thinking": thinking}, [])
    assert prepared.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert prepared.omit_thinking is omitted


def test_every_nested_rule_is_one_the_relay_keeps() -> None:
    assert all(rule.action in (Action.PASS, Action.EMULATE) for rule in NESTED.values())


def test_operator_allowed_betas_pass() -> None:
    flag = "new-beta-2030-01-01"
    prepared = prepare({"max_tokens": 5}, [flag], frozenset({flag}))
    assert prepared.betas == (flag,)


def test_several_beta_headers_are_merged_without_repeats() -> None:
    prepared = prepare(
        {"max_tokens": 5},
        [
            "interleaved-thinking-2025-05-14",
            "advanced-tool-use-2025-11-20, tool-search-tool-2025-10-19",
        ],
    )
    assert prepared.betas == ("interleaved-thinking-2025-05-14", "tool-search-tool-2025-10-19")


def test_every_rule_says_why() -> None:
    for rule in (*BETAS.values(), *FIELDS.values(), *NESTED.values()):
        assert rule.why
        assert (rule.action is Action.MAP) == bool(rule.to)


@pytest.mark.parametrize("with_betas", [True, False])
def test_the_claude_code_request_goes_through_the_relay_to_bedrock(relay, with_betas: bool) -> None:
    body, _ = claude_code_request()
    headers = {**CLAUDE_CODE["headers"], "x-api-key": KEY}
    if not with_betas:
        headers.pop("anthropic-beta")
    with httpx.stream(
        "POST",
        f"{relay.url}{CLAUDE_CODE['path']}?{CLAUDE_CODE['query']}",
        headers=headers,
        json=body,
    ) as response:
        events = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert response.status_code == 200
    assert events[0] == "event: message_start"
    assert events[-1] == "event: message_stop"
    assert relay.reached_backend() == 1
