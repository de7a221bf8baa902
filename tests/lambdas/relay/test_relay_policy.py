"""The field and beta-flag policy, replayed with the request shape Claude Code sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_wire import KEY

from relay.policy import BEDROCK_ANTHROPIC_VERSION, BETAS, FIELDS, Action, prepare

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
    assert "thinking.display" in prepared.dropped
    assert prepared.body["system"] == body["system"]
    assert prepared.body["tools"] == body["tools"]


def test_defer_loading_is_stripped_when_tool_search_is_not_passed() -> None:
    body, _ = claude_code_request()
    prepared = prepare(body, [])
    assert all("defer_loading" not in tool for tool in prepared.body["tools"])
    assert "tools.defer_loading" in prepared.dropped
    assert any("defer_loading" in tool for tool in body["tools"])  # the input is untouched


def test_context_management_without_its_beta_is_dropped() -> None:
    body, _ = claude_code_request()
    prepared = prepare(body, ["claude-code-20250219"])
    assert "context_management" not in prepared.body
    assert "context_management" in prepared.dropped
    assert "anthropic_beta" not in prepared.body


def test_unknown_fields_and_flags_are_dropped_and_named() -> None:
    prepared = prepare(
        {"max_tokens": 5, "messages": [], "brand_new_field": {"x": 1}}, ["brand-new-2030-01-01"]
    )
    assert "brand_new_field" not in prepared.body
    assert prepared.dropped == ("beta:brand-new-2030-01-01", "brand_new_field")


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
    for rule in (*BETAS.values(), *FIELDS.values()):
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
