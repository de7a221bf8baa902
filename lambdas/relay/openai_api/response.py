"""An Anthropic message as an OpenAI chat.completion, and models as OpenAI model objects. Pure.

Only text and tool_use blocks reach the client: thinking blocks have no place in a Chat
Completions message and are left out (their tokens still count in completion_tokens).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# Every Anthropic stop reason has an OpenAI finish_reason; an unknown one (or none) is "stop".
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
OWNED_BY = "anthropic"


def finish_reason(stop_reason: object) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def usage(anthropic_usage: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI usage: prompt_tokens counts cache reads and writes (OpenAI's includes cached
    tokens); the details say how many of them were read from and written to the cache."""
    cached = int(anthropic_usage.get("cache_read_input_tokens") or 0)
    written = int(anthropic_usage.get("cache_creation_input_tokens") or 0)
    prompt = int(anthropic_usage.get("input_tokens") or 0) + cached + written
    completion = int(anthropic_usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
    }


def tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }


def completion(message: Mapping[str, Any], created: int) -> dict[str, Any]:
    """The chat.completion for a (non-streamed) Anthropic message."""
    blocks = message.get("content") or []
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    reply: dict[str, Any] = {
        "role": "assistant",
        # OpenAI sends null content beside tool calls, and a string otherwise.
        "content": text if text or not calls else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": message.get("id", ""),
        "object": "chat.completion",
        "created": created,
        "model": message.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason(message.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": usage(message.get("usage") or {}),
    }


def model_object(info: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI model object from the relay's Anthropic model info (core.model_info)."""
    created = datetime.fromisoformat(str(info["created_at"]))
    return {
        "id": info["id"],
        "object": "model",
        "created": int(created.timestamp()),
        "owned_by": OWNED_BY,
    }


def model_list(infos: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(info) for info in infos]}
