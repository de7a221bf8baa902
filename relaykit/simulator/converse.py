"""Bedrock's Converse API in the simulator: a Converse request read as the Messages body it stands
for, and the reply (or its stream) written back in Converse's wire shapes.

For Claude, Bedrock's Converse is a translation layer over the same Messages model: content
blocks are tagged unions (`{"text": ...}`, `{"toolUse": {...}}`), `inferenceConfig` carries
max_tokens/temperature/top_p/stop_sequences, `additionalModelRequestFields` is merged into the
Anthropic body as is (thinking, top_k, anthropic_beta), and `cachePoint` blocks mark the block
before them as a prompt-cache breakpoint. Streams are event-stream messages named by their
member (`messageStart`, `contentBlockDelta`, ..., `metadata`) whose payload is the member's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from relaykit.simulator.errors import BedrockError
from relaykit.simulator.request import ANTHROPIC_VERSION

CONVERSE_FIELDS = frozenset(
    {
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "guardrailConfig",
        "promptVariables",
        "requestMetadata",
        "performanceConfig",
    }
)
_INFERENCE = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop_sequences",
}
_MEDIA = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
_CACHE = {"type": "ephemeral"}


def _invalid(message: str) -> BedrockError:
    return BedrockError.validation(message)


def _media(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    source = item.get("source", {})
    data = source.get("bytes", "") if isinstance(source, dict) else ""
    media_type = _MEDIA.get(str(item.get("format")), "application/octet-stream")
    return {"type": kind, "source": {"type": "base64", "media_type": media_type, "data": data}}


def _result_part(part: dict[str, Any]) -> dict[str, Any]:
    if "text" in part:
        return {"type": "text", "text": str(part["text"])}
    if "json" in part:
        return {"type": "text", "text": json.dumps(part["json"])}
    if "image" in part:
        return _media("image", part["image"])
    raise _invalid("The toolResult content block has an unsupported member.")


def _block(block: dict[str, Any]) -> dict[str, Any]:
    """One Converse content block as its Anthropic block."""
    if "text" in block:
        return {"type": "text", "text": str(block["text"])}
    if "image" in block:
        return _media("image", block["image"])
    if "document" in block:
        return _media("document", block["document"])
    if "toolUse" in block:
        use = block["toolUse"]
        return {
            "type": "tool_use",
            "id": use.get("toolUseId", ""),
            "name": use.get("name", ""),
            "input": use.get("input", {}),
        }
    if "toolResult" in block:
        result = block["toolResult"]
        parts = [_result_part(p) for p in result.get("content", []) if isinstance(p, dict)]
        converted = {
            "type": "tool_result",
            "tool_use_id": result.get("toolUseId", ""),
            "content": parts,
        }
        return {**converted, "is_error": True} if result.get("status") == "error" else converted
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
        text = reasoning.get("reasoningText", {})
        return {
            "type": "thinking",
            "thinking": text.get("text", ""),
            "signature": text.get("signature", ""),
        }
    raise _invalid(f"The content block {sorted(block)} is not supported by this model.")


def _blocks(items: list[Any]) -> list[dict[str, Any]]:
    """Content blocks, each `cachePoint` turned into cache_control on the block before it."""
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise _invalid("A content block must be an object.")
        if "cachePoint" in item:
            if out:
                out[-1] = {**out[-1], "cache_control": _CACHE}
            continue
        out.append(_block(item))
    return out


def _tools(config: dict[str, Any]) -> dict[str, Any]:
    tools: list[dict[str, Any]] = []
    for tool in config.get("tools", []):
        if isinstance(tool, dict) and "cachePoint" in tool and tools:
            tools[-1] = {**tools[-1], "cache_control": _CACHE}
        elif isinstance(tool, dict) and isinstance(spec := tool.get("toolSpec"), dict):
            tools.append(
                {
                    "name": spec.get("name", ""),
                    "description": spec.get("description", ""),
                    "input_schema": spec.get("inputSchema", {}).get("json", {}),
                }
            )
    fields: dict[str, Any] = {"tools": tools} if tools else {}
    choice = config.get("toolChoice")
    if isinstance(choice, dict) and len(choice) == 1:
        ((kind, detail),) = choice.items()
        fields["tool_choice"] = {
            "type": kind,
            **({"name": detail.get("name")} if kind == "tool" else {}),
        }
    return fields


def messages_body(converse: dict[str, Any]) -> dict[str, Any]:
    """The messages, system and tools of the Messages body a Converse request stands for."""
    messages = [
        {"role": message.get("role"), "content": _blocks(message.get("content", []))}
        for message in converse.get("messages", [])
        if isinstance(message, dict)
    ]
    system = _blocks(converse.get("system", []))
    config = converse.get("toolConfig")
    tools = _tools(config) if isinstance(config, dict) else {}
    return {"messages": messages, **({"system": system} if system else {}), **tools}


def invoke_body(converse: dict[str, Any], max_output_tokens: int) -> dict[str, Any]:
    """The whole InvokeModel body of a Converse request; without maxTokens, the model's maximum
    (as Bedrock does)."""
    unknown = sorted(set(converse) - CONVERSE_FIELDS)
    if unknown:
        raise _invalid(f"Unknown parameters in the request: {', '.join(unknown)}.")
    inference = converse.get("inferenceConfig", {})
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": max_output_tokens}
    body |= {_INFERENCE[k]: v for k, v in inference.items() if k in _INFERENCE}
    body |= messages_body(converse)
    extra = converse.get("additionalModelRequestFields", {})
    return body | (extra if isinstance(extra, dict) else {})


def _output_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "text":
        return {"text": block["text"]}
    if kind == "thinking":
        text = {"text": block["thinking"], "signature": block["signature"]}
        return {"reasoningContent": {"reasoningText": text}}
    return {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}}


def usage(anthropic: dict[str, int]) -> dict[str, int]:
    """Converse's usage: input tokens without the cached ones, which are counted apart."""
    read, write = anthropic["cache_read_input_tokens"], anthropic["cache_creation_input_tokens"]
    out = {
        "inputTokens": anthropic["input_tokens"],
        "outputTokens": anthropic["output_tokens"],
        "totalTokens": anthropic["input_tokens"] + anthropic["output_tokens"] + read + write,
    }
    if read:
        out["cacheReadInputTokens"] = read
    if write:
        out["cacheWriteInputTokens"] = write
    return out


def _response_fields(message: dict[str, Any], paths: object) -> dict[str, Any]:
    """`additionalModelResponseFieldPaths` such as `/stop_sequence`: top-level Message fields."""
    names = (
        [p.removeprefix("/") for p in paths if isinstance(p, str)]
        if isinstance(paths, list)
        else []
    )
    picked = {name: message[name] for name in names if name in message}
    return {"additionalModelResponseFields": picked} if picked else {}


def response(message: dict[str, Any], converse: dict[str, Any], latency_ms: int) -> dict[str, Any]:
    """The Converse response for the Message that answers `converse`."""
    content = [_output_block(block) for block in message["content"]]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": message["stop_reason"],
        "usage": usage(message["usage"]),
        "metrics": {"latencyMs": latency_ms},
        **_response_fields(message, converse.get("additionalModelResponseFieldPaths")),
    }


def _delta(delta: dict[str, Any]) -> dict[str, Any]:
    kind = delta["type"]
    if kind == "text_delta":
        return {"text": delta["text"]}
    if kind == "input_json_delta":
        return {"toolUse": {"input": delta["partial_json"]}}
    if kind == "thinking_delta":
        return {"reasoningContent": {"text": delta["thinking"]}}
    return {"reasoningContent": {"signature": delta["signature"]}}


def stream_events(
    event: dict[str, Any], message: dict[str, Any], latency_ms: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ConverseStream events (name, payload) an Anthropic stream event becomes; text and
    thinking blocks start without a `contentBlockStart`, as on Bedrock."""
    kind = event["type"]
    if kind == "message_start":
        yield "messageStart", {"role": "assistant"}
    elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
        block = event["content_block"]
        start = {"toolUse": {"toolUseId": block["id"], "name": block["name"]}}
        yield "contentBlockStart", {"start": start, "contentBlockIndex": event["index"]}
    elif kind == "content_block_delta":
        yield (
            "contentBlockDelta",
            {"delta": _delta(event["delta"]), "contentBlockIndex": event["index"]},
        )
    elif kind == "content_block_stop":
        yield "contentBlockStop", {"contentBlockIndex": event["index"]}
    elif kind == "message_delta":
        yield "messageStop", {"stopReason": event["delta"]["stop_reason"]}
    elif kind == "message_stop":
        yield "metadata", {"usage": usage(message["usage"]), "metrics": {"latencyMs": latency_ms}}
