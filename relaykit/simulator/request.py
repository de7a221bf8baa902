"""Validation of the InvokeModel body, the way Bedrock's Anthropic schema check reports it.

Bedrock checks the body against a JSON schema before the model sees it and answers
`ValidationException: Malformed input request: #: extraneous key [x] is not permitted, please
reformat your input and try again.` Checks the model itself makes (max_tokens against the
model's limit, thinking budget, tool_choice naming a tool) come back with Anthropic's wording.

Top-level fields: those the Bedrock documentation lists for Claude (anthropic_version,
anthropic_beta, max_tokens, system, messages, temperature, top_p, top_k, tools, tool_choice,
stop_sequences) plus thinking, metadata and output_config (its `format` needs no flag, as
structured outputs are generally available; its `effort` needs the effort flag). Fields that
belong to a beta feature are accepted only when a matching `anthropic_beta` flag is sent
(conservative: a relay that forwards them without the flag fails here as it may on Bedrock).
Anything else (`model`, `stream`, `service_tier`, `container`, `mcp_servers`, ...) is rejected
as extraneous.

The same checks serve the Vertex AI paths through a `Dialect`: Vertex takes its own
`anthropic_version`, `stream` in the body, and beta flags from the `anthropic-beta` header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from relay.catalog import Model
from relay.structured import closed
from relaykit.simulator.errors import BedrockError

ANTHROPIC_VERSION = "bedrock-2023-05-31"
# The one `anthropic_version` Claude on Vertex AI takes (Anthropic's "Claude on Vertex AI" page).
VERTEX_VERSION = "vertex-2023-10-16"
# The anthropic SDK's AnthropicBedrock (2.x) sends its own dated API version instead of the
# Bedrock one; accepted as the SDK evidently relies on it. Any other value is rejected.
_DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")

BASE_FIELDS = frozenset(
    {
        "anthropic_version",
        "anthropic_beta",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        # Structured outputs (`format`) are generally available; `effort` needs its beta flag.
        "output_config",
    }
)

# Field -> prefixes of the beta flags that unlock it (flags are dated: `context-management-...`).
BETA_FIELDS: dict[str, tuple[str, ...]] = {
    "context_management": ("context-management-",),
    "output_format": ("structured-outputs-",),
}

# A count-tokens body (Vertex AI's count-tokens:rawPredict) names its model and has no max_tokens.
COUNT_FIELDS = frozenset(
    {"anthropic_version", "model", "messages", "system", "tools", "tool_choice", "thinking"}
)


def _bedrock_version(version: object) -> bool:
    return version == ANTHROPIC_VERSION or (
        isinstance(version, str) and _DATED_VERSION.fullmatch(version) is not None
    )


@dataclass(frozen=True)
class Dialect:
    """What one provider's Claude endpoint accepts, and how its replies name themselves.

    `tag` goes into generated ids (`msg_bdrk_01...`, `msg_vrtx_01...`), `name` into reply text.
    """

    name: str
    tag: str
    version_ok: Callable[[object], bool]
    fields: frozenset[str] = BASE_FIELDS
    required: tuple[str, ...] = ("anthropic_version", "max_tokens", "messages")


BEDROCK = Dialect("Bedrock", "bdrk", _bedrock_version)
# Vertex AI takes `stream` in the body (streamRawPredict); the model is in the URL.
VERTEX = Dialect(
    "Vertex AI", "vrtx", lambda v: v == VERTEX_VERSION, BASE_FIELDS | frozenset({"stream"})
)
VERTEX_COUNT = Dialect(
    "Vertex AI", "vrtx", lambda v: v == VERTEX_VERSION, COUNT_FIELDS, ("model", "messages")
)

MIN_THINKING_BUDGET = 1024
# "system": mid-conversation system messages, for models that take them (checked per model).
_ROLES = ("user", "assistant", "system")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING_TYPES = ("enabled", "disabled", "adaptive")


@dataclass(frozen=True)
class InvokeRequest:
    """A validated InvokeModel body, with the catalog model it was sent to."""

    model: Model
    body: dict[str, Any]
    max_tokens: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: dict[str, Any]
    thinking: bool
    stop_sequences: list[str]
    betas: list[str]
    dialect: Dialect = BEDROCK
    # The JSON schema of output_config.format: the reply is JSON that fits it.
    output_schema: dict[str, Any] | None = None


def _malformed(violations: list[str]) -> BedrockError:
    return BedrockError.validation(
        f"Malformed input request: {''.join(violations)}, please reformat your input and try again."
    )


_TYPE_NAMES: dict[type, str] = {
    bool: "Boolean",
    int: "Integer",
    float: "Number",
    str: "String",
    list: "JSONArray",
    dict: "JSONObject",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "Null")


def _expect(violations: list[str], path: str, value: Any, kind: type | tuple[type, ...]) -> bool:
    wanted = kind if isinstance(kind, tuple) else (kind,)
    # JSON booleans are not numbers, though Python's bool is an int.
    ok = isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted)
    if not ok:
        expected = "|".join(_TYPE_NAMES[k] for k in wanted)
        violations.append(f"#/{path}: expected type: {expected}, found: {_type_name(value)}")
    return ok


def _check_messages(violations: list[str], messages: Any) -> None:
    if not _expect(violations, "messages", messages, list):
        return
    if not messages:
        violations.append("#/messages: expected minimum item count: 1, found: 0")
    for i, message in enumerate(messages):
        if not _expect(violations, f"messages/{i}", message, dict):
            continue
        if message.get("role") not in _ROLES:
            violations.append(
                f"#/messages/{i}/role: {message.get('role')} is not a valid enum value"
            )
        content = message.get("content")
        if content is None:
            violations.append(f"#/messages/{i}: required key [content] not found")
        elif _expect(violations, f"messages/{i}/content", content, (str, list)) and isinstance(
            content, list
        ):
            for j, block in enumerate(content):
                path = f"messages/{i}/content/{j}"
                if _expect(violations, path, block, dict) and not isinstance(
                    block.get("type"), str
                ):
                    violations.append(f"#/{path}: required key [type] not found")


def body_betas(body: dict[str, Any]) -> list[str]:
    """The beta flags of a body's `anthropic_beta` list (Bedrock takes them there)."""
    betas = body.get("anthropic_beta", [])
    return [b for b in betas if isinstance(b, str)] if isinstance(betas, list) else []


def _check_schema(body: dict[str, Any], dialect: Dialect, flags: Iterable[str]) -> list[str]:
    violations: list[str] = []
    betas = body.get("anthropic_beta", [])
    flags = list(flags)
    for key in body:
        if key in dialect.fields:
            continue
        prefixes = BETA_FIELDS.get(key, ())
        if not prefixes or not any(flag.startswith(prefixes) for flag in flags):
            violations.append(f"#: extraneous key [{key}] is not permitted")
    for key in dialect.required:
        if key not in body:
            violations.append(f"#: required key [{key}] not found")
    version = body.get("anthropic_version")
    if version is not None and not dialect.version_ok(version):
        violations.append(f"#/anthropic_version: {version} is not a valid enum value")
    if "model" in body:
        _expect(violations, "model", body["model"], str)
    if "stream" in body:
        _expect(violations, "stream", body["stream"], bool)
    if "anthropic_beta" in body and _expect(violations, "anthropic_beta", betas, list):
        for i, flag in enumerate(betas):
            _expect(violations, f"anthropic_beta/{i}", flag, str)
    max_tokens: Any = body.get("max_tokens")
    if (
        "max_tokens" in body
        and _expect(violations, "max_tokens", max_tokens, int)
        and max_tokens < 1
    ):
        violations.append(f"#/max_tokens: {max_tokens} is not greater or equal to 1")
    if "messages" in body:
        _check_messages(violations, body["messages"])
    if "system" in body:
        _expect(violations, "system", body["system"], (str, list))
    for key in ("temperature", "top_p"):
        value: Any = body.get(key)
        if key in body and _expect(violations, key, value, (int, float)) and not 0 <= value <= 1:
            violations.append(f"#/{key}: {value} is not between 0 and 1")
    if "top_k" in body:
        _expect(violations, "top_k", body["top_k"], int)
    if "stop_sequences" in body and _expect(
        violations, "stop_sequences", body["stop_sequences"], list
    ):
        for i, stop in enumerate(body["stop_sequences"]):
            _expect(violations, f"stop_sequences/{i}", stop, str)
    if "tools" in body and _expect(violations, "tools", body["tools"], list):
        for i, tool in enumerate(body["tools"]):
            if _expect(violations, f"tools/{i}", tool, dict) and not isinstance(
                tool.get("name"), str
            ):
                violations.append(f"#/tools/{i}: required key [name] not found")
    for key in ("tool_choice", "thinking", "metadata"):
        if key in body:
            _expect(violations, key, body[key], dict)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") not in _TOOL_CHOICES:
        violations.append(f"#/tool_choice/type: {choice.get('type')} is not a valid enum value")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") not in _THINKING_TYPES:
        violations.append(f"#/thinking/type: {thinking.get('type')} is not a valid enum value")
    config: Any = body.get("output_config")
    if "output_config" in body and _expect(violations, "output_config", config, dict):
        _check_output_config(violations, config, flags)
    return violations


def _check_output_config(violations: list[str], config: dict[str, Any], flags: list[str]) -> None:
    for key in config:
        if key not in ("format", "effort") or (
            key == "effort" and not any(f.startswith("effort-") for f in flags)
        ):
            violations.append(f"#/output_config: extraneous key [{key}] is not permitted")
    fmt = config.get("format")
    if "format" in config and _expect(violations, "output_config/format", fmt, dict):
        assert isinstance(fmt, dict)
        if fmt.get("type") != "json_schema":
            violations.append(
                f"#/output_config/format/type: {fmt.get('type')} is not a valid enum value"
            )
        if not isinstance(fmt.get("schema"), dict):
            violations.append("#/output_config/format: required key [schema] not found")


def _check_semantics(body: dict[str, Any], model: Model) -> None:
    """The checks the model makes; raised one at a time, as the Messages API does."""
    max_tokens: int = body["max_tokens"]
    if max_tokens > model.max_output_tokens:
        raise BedrockError.validation(
            f"max_tokens: {max_tokens} > {model.max_output_tokens}, which is the maximum allowed "
            f"number of output tokens for {model.anthropic_id}"
        )
    tools = body.get("tools", [])
    choice = body.get("tool_choice", {})
    if choice.get("type") == "tool":
        name = choice.get("name")
        if name not in {tool["name"] for tool in tools}:
            raise BedrockError.validation(f"tool_choice: tool '{name}' not found in tools")
    if choice and not tools and choice.get("type") in ("any", "tool"):
        raise BedrockError.validation("tool_choice may only be specified while providing tools.")
    thinking = body.get("thinking", {})
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET:
            raise BedrockError.validation(
                f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                f"{MIN_THINKING_BUDGET}"
            )
        if budget >= max_tokens:
            raise BedrockError.validation(
                "`max_tokens` must be greater than `thinking.budget_tokens`."
            )
    if thinking.get("type") in ("enabled", "adaptive") and choice.get("type") in ("any", "tool"):
        raise BedrockError.validation(
            "Thinking may not be enabled when tool_choice forces tool use."
        )
    roles = {m.get("role") for m in body["messages"]}
    if "system" in roles and not model.mid_conversation_system:
        raise BedrockError.validation(
            f"messages: role 'system' is not supported for {model.anthropic_id}; put system "
            "instructions in the top-level 'system' parameter"
        )
    fmt = body.get("output_config", {}).get("format")
    if fmt is not None and not model.structured_outputs:
        raise BedrockError.validation(
            f"output_config.format: structured outputs are not supported for {model.anthropic_id}"
        )
    if fmt is not None and not closed(fmt["schema"]):
        raise BedrockError.validation(
            "output_config.format.schema: For 'object' type, 'additionalProperties' must be "
            "explicitly set to false"
        )


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or Bedrock's error for one that is not JSON."""
    try:
        # Strict UTF-8, and no lone surrogates through \u escapes either (json.loads allows both):
        # such text cannot be encoded again, and the simulator must answer, not crash.
        body = json.loads(raw.decode("utf-8"))
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError):
        body = None
    if not isinstance(body, dict):
        raise BedrockError.validation(
            "Malformed input request, please reformat your input and try again."
        )
    return body


def parse_invoke_body(
    raw: bytes, model: Model, dialect: Dialect = BEDROCK, betas: Iterable[str] | None = None
) -> InvokeRequest:
    """Validate a Messages body for `model`; raises BedrockError (ValidationException).

    `betas` are the flags that unlock beta fields; by default (Bedrock) the body's
    `anthropic_beta`. Vertex AI reads them from the `anthropic-beta` header instead.
    """
    body = parse_body(raw)
    flags = body_betas(body) if betas is None else list(betas)
    violations = _check_schema(body, dialect, flags)
    if violations:
        raise _malformed(violations)
    _check_semantics(body, model)
    thinking = body.get("thinking", {})
    return InvokeRequest(
        model=model,
        body=body,
        max_tokens=body["max_tokens"],
        messages=body["messages"],
        tools=body.get("tools", []),
        tool_choice=body.get("tool_choice", {"type": "auto"}),
        thinking=thinking.get("type") in ("enabled", "adaptive"),
        stop_sequences=body.get("stop_sequences", []),
        betas=flags,
        dialect=dialect,
        output_schema=body.get("output_config", {}).get("format", {}).get("schema"),
    )


def parse_count_body(raw: bytes, betas: Iterable[str]) -> dict[str, Any]:
    """Validate a Vertex AI count-tokens body (its `model` is checked by the caller)."""
    body = parse_body(raw)
    violations = _check_schema(body, VERTEX_COUNT, betas)
    if violations:
        raise _malformed(violations)
    return body
