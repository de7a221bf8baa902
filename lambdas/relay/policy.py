"""What the relay does with each top-level field and each beta flag a client sends.

Clients (Claude Code above all) send beta flags and fields that the Anthropic API knows and
Bedrock may reject ("extraneous key [...] is not permitted" is the most reported gateway
failure). Every field has one explicit rule here, and the rule that decides them:

    A field that changes what the model returns (its format, its tools, its thinking, what it
    reads) is never dropped. It is passed on, mapped to Bedrock's name or shape, emulated by the
    relay, or refused with a 400 that says why and what to do. Only a field that changes nothing
    a caller can observe of the reply (client identification, account tiers) is dropped, and its
    name is logged.

A field this table does not know is passed on: Bedrock either honours it or answers 400 naming
it, so a new field never changes a reply silently. A field that needs a beta flag on Bedrock
gets the flag added. Beta flags themselves only unlock features: unknown flags are dropped
(Bedrock refuses flags it does not know) and logged, while the fields they unlock follow the
field rules above.
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
    # The relay makes the field's effect itself (structured.py, the presenter in core.py).
    EMULATE = "emulate"


@dataclass(frozen=True)
class Rule:
    action: Action
    why: str
    to: str = ""
    # Bedrock takes the field only with this beta flag; the relay adds the flag when absent.
    needs_beta: str = ""


_SAME = "Bedrock accepts it unchanged"
_TOOL_SEARCH = "tool-search-tool-2025-10-19"
_CONTEXT_MANAGEMENT = "context-management-2025-06-27"
_EFFORT = "effort-2025-11-24"
_FORMAT = "output_config.format"

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
    # `effort` needs its beta flag (added when absent); `format` passes to models with native
    # structured outputs and is emulated for the others (structured.py).
    "output_config": Rule(Action.PASS, "Bedrock accepts it; `effort` with its beta flag"),
    "output_format": Rule(
        Action.MAP, "the structured-outputs beta's name for output_config.format", to=_FORMAT
    ),
    "metadata": Rule(Action.DROP, "only identifies the end user; the reply does not change"),
    "service_tier": Rule(
        Action.DROP, "an Anthropic API capacity tier; the reply's content does not change"
    ),
    "inference_geo": Rule(
        Action.REJECT,
        "the relay's routing (RELAY_ROUTING) decides where inference runs; send no "
        "inference_geo (or 'global'), or use a relay deployed with geographic routing",
    ),
    "mcp_servers": Rule(Action.REJECT, "the MCP connector is not available through Bedrock"),
    "container": Rule(Action.REJECT, "code-execution containers are not available on Bedrock"),
}

# Keys inside a field and what happens to them.
NESTED: dict[str, Rule] = {
    "thinking.display": Rule(
        Action.EMULATE,
        "Bedrock does not take it; with 'omitted' the relay empties thinking text itself",
    ),
    "tools.defer_loading": Rule(
        Action.PASS, "Bedrock accepts it with the tool search beta flag, which the relay adds"
    ),
}

# Values of a refused field that ask for nothing the relay does not already do; dropped.
_HARMLESS: dict[str, tuple[object, ...]] = {"inference_geo": (None, "global")}


@dataclass(frozen=True)
class Prepared:
    """A Bedrock InvokeModel body and what was left out of it (names only, for the log)."""

    body: dict[str, Any]
    betas: tuple[str, ...]
    dropped: tuple[str, ...]
    # thinking.display was "omitted": the relay empties the thinking text of the reply.
    omit_thinking: bool = False


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
    flags, dropped = map_betas(parse_betas(beta_headers), extra_betas)
    betas = list(flags)
    body: dict[str, Any] = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    for name, value in request.items():
        if name in ("model", "stream"):
            continue
        rule = FIELDS.get(name)
        if rule is None or rule.action is Action.PASS:
            body[name] = value
        elif rule.action is Action.DROP or value in _HARMLESS.get(name, ()):
            dropped.append(name)
        elif rule.action is Action.REJECT:
            raise invalid_request(f"{name}: {rule.why}.", "unsupported_field")
        else:
            _map(body, rule.to, name, value)
    for flag in _needed_betas(body):
        if flag not in betas:
            betas.append(flag)
    omit_thinking = _take_thinking_display(body)
    if betas:
        body["anthropic_beta"] = betas
    return Prepared(body, tuple(betas), tuple(dropped), omit_thinking)


def _map(body: dict[str, Any], to: str, name: str, value: object) -> None:
    parent, _, key = to.partition(".")
    held = body.setdefault(parent, {})
    if not isinstance(held, dict) or key in held:
        raise invalid_request(f"{name}: send either {name} or {to}, not both.", "duplicate_field")
    body[parent] = {**held, key: value}


def _needed_betas(body: dict[str, Any]) -> list[str]:
    """The beta flags Bedrock needs for the fields of `body`."""
    needed = [rule.needs_beta for name, rule in FIELDS.items() if rule.needs_beta and name in body]
    config = body.get("output_config")
    if isinstance(config, dict) and "effort" in config:
        needed.append(_EFFORT)
    tools = body.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "defer_loading" in t for t in tools):
        needed.append(_TOOL_SEARCH)
    return needed


def _take_thinking_display(body: dict[str, Any]) -> bool:
    """Remove thinking.display, which Bedrock does not take; whether it asked for "omitted"."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or "display" not in thinking:
        return False
    body["thinking"] = {k: v for k, v in thinking.items() if k != "display"}
    return bool(thinking["display"] == "omitted")
