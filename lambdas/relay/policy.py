"""What the relay does with each top-level field and each beta flag a client sends.

Clients (Claude Code above all) send beta flags and fields that the Anthropic API knows and
Bedrock may reject ("extraneous key [...] is not permitted" is the most reported gateway
failure). Every field and flag has one explicit rule here: pass it on, map it to Bedrock's name,
drop it (with a log line naming it), or reject the request because Bedrock cannot honour it.
Anything not listed is dropped and logged, so a new client field degrades instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relay.errors import invalid_request

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


class Action(StrEnum):
    PASS = "pass"  # noqa: S105 (a policy action, not a password)
    MAP = "map"
    DROP = "drop"
    REJECT = "reject"


@dataclass(frozen=True)
class Rule:
    action: Action
    why: str
    to: str = ""
    # PASS only while this beta flag goes to Bedrock too; otherwise the field is dropped.
    needs_beta: str = ""


_SAME = "Bedrock accepts it unchanged"
_TOOL_SEARCH = "tool-search-tool-2025-10-19"
_CONTEXT_MANAGEMENT = "context-management-2025-06-27"
_EFFORT = "effort-2025-11-24"

BETAS: dict[str, Rule] = {
    "interleaved-thinking-2025-05-14": Rule(Action.PASS, _SAME),
    _CONTEXT_MANAGEMENT: Rule(Action.PASS, _SAME),
    "context-1m-2025-08-07": Rule(Action.PASS, _SAME),
    "computer-use-2024-10-22": Rule(Action.PASS, _SAME),
    "computer-use-2025-01-24": Rule(Action.PASS, _SAME),
    "token-efficient-tools-2025-02-19": Rule(Action.PASS, _SAME),
    "fine-grained-tool-streaming-2025-05-14": Rule(Action.PASS, _SAME),
    "output-128k-2025-02-19": Rule(Action.PASS, _SAME),
    _EFFORT: Rule(Action.PASS, _SAME),
    _TOOL_SEARCH: Rule(Action.PASS, _SAME),
    "tool-examples-2025-10-29": Rule(Action.PASS, _SAME),
    "advanced-tool-use-2025-11-20": Rule(
        Action.MAP, "the Anthropic API's name for tool search; Bedrock names it", to=_TOOL_SEARCH
    ),
    "claude-code-20250219": Rule(Action.DROP, "identifies the client; means nothing to Bedrock"),
    "oauth-2025-04-20": Rule(Action.DROP, "Anthropic OAuth; the relay authenticates instead"),
    "prompt-caching-2024-07-31": Rule(Action.DROP, "prompt caching is generally available"),
    "extended-cache-ttl-2025-04-11": Rule(Action.DROP, "the 1-hour cache TTL needs no flag"),
    "pdfs-2024-09-25": Rule(Action.DROP, "PDF input is generally available"),
    "token-counting-2024-11-01": Rule(Action.DROP, "token counting is generally available"),
    "files-api-2025-04-14": Rule(Action.DROP, "the Files API is not on Bedrock"),
    "mcp-client-2025-04-04": Rule(Action.DROP, "the MCP connector is not on Bedrock"),
    "mcp-client-2025-11-20": Rule(Action.DROP, "the MCP connector is not on Bedrock"),
    "code-execution-2025-05-22": Rule(Action.DROP, "server-side code execution is not on Bedrock"),
    "skills-2025-10-02": Rule(Action.DROP, "Agent Skills are not on Bedrock"),
}

FIELDS: dict[str, Rule] = {
    "max_tokens": Rule(Action.PASS, _SAME),
    "messages": Rule(Action.PASS, _SAME),
    "system": Rule(Action.PASS, _SAME),
    "temperature": Rule(Action.PASS, _SAME),
    "top_p": Rule(Action.PASS, _SAME),
    "top_k": Rule(Action.PASS, _SAME),
    "stop_sequences": Rule(Action.PASS, _SAME),
    "tools": Rule(Action.PASS, _SAME),
    "tool_choice": Rule(Action.PASS, _SAME),
    "thinking": Rule(Action.PASS, _SAME),
    "context_management": Rule(
        Action.PASS, "Bedrock accepts it with its beta flag", needs_beta=_CONTEXT_MANAGEMENT
    ),
    "output_config": Rule(Action.PASS, "Bedrock accepts it with its beta flag", needs_beta=_EFFORT),
    "metadata": Rule(Action.DROP, "Bedrock's Anthropic body has no metadata field"),
    "service_tier": Rule(Action.DROP, "Anthropic API tiers; Bedrock has its own service tiers"),
    "inference_geo": Rule(Action.DROP, "the relay's routing setting decides the geography"),
    "mcp_servers": Rule(Action.REJECT, "the MCP connector is not available through Bedrock"),
    "container": Rule(Action.REJECT, "code-execution containers are not available on Bedrock"),
}

# Keys inside a field that Bedrock does not know; dropped when present.
_THINKING_DROP = ("display",)


@dataclass(frozen=True)
class Prepared:
    """A Bedrock InvokeModel body and what was left out of it (names only, for the log)."""

    body: dict[str, Any]
    betas: tuple[str, ...]
    dropped: tuple[str, ...]


def parse_betas(headers: Iterable[str]) -> list[str]:
    """Beta flags from one or more `anthropic-beta` headers, comma-separated, in order."""
    return [flag.strip() for header in headers for flag in header.split(",") if flag.strip()]


def map_betas(
    requested: Iterable[str], extra: frozenset[str] = frozenset()
) -> tuple[tuple[str, ...], list[str]]:
    betas: list[str] = []
    dropped: list[str] = []
    for flag in requested:
        rule = BETAS.get(flag)
        if flag in extra or (rule is not None and rule.action is Action.PASS):
            target = flag
        elif rule is not None and rule.action is Action.MAP:
            target = rule.to
        else:
            dropped.append(f"beta:{flag}")
            continue
        if target not in betas:
            betas.append(target)
    return tuple(betas), dropped


def prepare(
    request: dict[str, Any], beta_headers: Iterable[str], extra_betas: frozenset[str] = frozenset()
) -> Prepared:
    """Turn a validated Messages request into the body InvokeModel takes.

    `model` becomes Bedrock's modelId and `stream` chooses the API, so neither goes in the body.
    """
    betas, dropped = map_betas(parse_betas(beta_headers), extra_betas)
    body: dict[str, Any] = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    for name, value in request.items():
        if name in ("model", "stream"):
            continue
        rule = FIELDS.get(name)
        if rule is None or rule.action is Action.DROP:
            dropped.append(name)
        elif rule.action is Action.REJECT:
            raise invalid_request(f"{name}: {rule.why}.", "unsupported_field")
        elif rule.needs_beta and rule.needs_beta not in betas:
            dropped.append(name)
        else:
            body[name] = value
    body, nested = _strip_nested(body, betas)
    if betas:
        body["anthropic_beta"] = list(betas)
    return Prepared(body, betas, (*dropped, *nested))


def _strip_nested(body: dict[str, Any], betas: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    dropped: list[str] = []
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and any(k in thinking for k in _THINKING_DROP):
        body["thinking"] = {k: v for k, v in thinking.items() if k not in _THINKING_DROP}
        dropped.extend(f"thinking.{k}" for k in _THINKING_DROP if k in thinking)
    tools = body.get("tools")
    deferred = isinstance(tools, list) and any(
        isinstance(t, dict) and "defer_loading" in t for t in tools
    )
    if deferred and _TOOL_SEARCH not in betas:
        assert isinstance(tools, list)
        body["tools"] = [
            {k: v for k, v in t.items() if k != "defer_loading"} if isinstance(t, dict) else t
            for t in tools
        ]
        dropped.append("tools.defer_loading")
    return body, dropped
