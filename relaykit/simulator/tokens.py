"""Plausible token counts: about four characters a token over what the model reads.

The input is cut into segments in the order the model reads it (tools, system, then each
message's blocks); a segment is where a `cache_control` breakpoint may sit. CountTokens, the
usage of InvokeModel and the usage in a stream all add up the same segments, so they agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
# Framing around each block (role markers, block delimiters).
BLOCK_OVERHEAD = 3
# Images and binary documents are counted at a flat rate rather than by their base64 size.
MEDIA_TOKENS = 1_500

_WORD = re.compile(r"\S+\s*")


def estimate(text: str) -> int:
    """Tokens of a piece of input text: its length over four, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


def output_pieces(text: str) -> list[str]:
    """Generated text as output tokens: one token per word with its trailing space."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class Segment:
    """One block of input: a canonical key for cache matching, its tokens, and a breakpoint."""

    key: str
    tokens: int
    breakpoint: bool


def _canonical(item: Any) -> str:
    if isinstance(item, dict):
        item = {k: v for k, v in item.items() if k != "cache_control"}
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _text_of(block: Any) -> str | None:
    """The text a block contributes, or None for media counted at a flat rate."""
    if isinstance(block, str):
        return block
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "thinking":
        return str(block.get("thinking", ""))
    if kind == "tool_use":
        return str(block.get("name", "")) + json.dumps(block.get("input", {}), sort_keys=True)
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return "".join(_text_of(part) or "" for part in content if isinstance(part, dict))
        return str(content)
    source = block.get("source")
    if kind == "document" and isinstance(source, dict) and source.get("type") == "text":
        return str(source.get("data", ""))
    if kind in ("image", "document"):
        return None
    return _canonical(block)


def _segment(item: Any, role: str = "") -> Segment:
    text = item if isinstance(item, str) else _text_of(item)
    tokens = MEDIA_TOKENS if text is None else estimate(text) + BLOCK_OVERHEAD
    marked = isinstance(item, dict) and "cache_control" in item
    return Segment(key=role + _canonical(item), tokens=tokens, breakpoint=marked)


def segments(body: dict[str, Any]) -> list[Segment]:
    """The input of a Messages body in reading order: tools, system, messages."""
    out = [
        Segment(
            key=_canonical(tool),
            tokens=estimate(_canonical(tool)) + BLOCK_OVERHEAD,
            breakpoint="cache_control" in tool,
        )
        for tool in body.get("tools", [])
    ]
    system = body.get("system")
    if isinstance(system, str) and system:
        out.append(_segment(system, "system:"))
    elif isinstance(system, list):
        out.extend(_segment(block, "system:") for block in system if isinstance(block, dict))
    for message in body.get("messages", []):
        role = f"{message.get('role')}:"
        content = message.get("content", "")
        blocks = [content] if isinstance(content, str) else content
        out.extend(_segment(block, role) for block in blocks)
    return out


def count_input_tokens(body: dict[str, Any]) -> int:
    """The input tokens of a Messages body (at least one)."""
    return max(1, sum(segment.tokens for segment in segments(body)))
