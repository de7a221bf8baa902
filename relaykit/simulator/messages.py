"""The Anthropic Message object of a reply, and the stream events that spell it out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from relay.catalog import Model
from relaykit.simulator.cache import CacheUsage
from relaykit.simulator.replies import Reply
from relaykit.simulator.tokens import output_pieces

# Output tokens per content_block_delta, and characters per input_json_delta.
TOKENS_PER_DELTA = 3
JSON_CHARS_PER_DELTA = 24


def usage(cache: CacheUsage, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": cache.input_tokens,
        "cache_creation_input_tokens": cache.cache_creation_input_tokens,
        "cache_read_input_tokens": cache.cache_read_input_tokens,
        "output_tokens": output_tokens,
    }


def message_object(
    message_id: str, model: Model, reply: Reply, cache: CacheUsage
) -> dict[str, Any]:
    """The InvokeModel response body: an Anthropic Message with Bedrock's `model` naming."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model.anthropic_id,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": usage(cache, reply.output_tokens),
    }


@dataclass(frozen=True)
class StreamEvent:
    """One Anthropic stream event and the output tokens it carries (for pacing)."""

    data: dict[str, Any]
    tokens: int = 0


def _grouped(pieces: list[str], size: int) -> Iterator[str]:
    for start in range(0, len(pieces), size):
        yield "".join(pieces[start : start + size])


def _block_events(index: int, block: dict[str, Any]) -> Iterator[StreamEvent]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": ""}
    else:
        start = {**block, "input": {}}
    yield StreamEvent({"type": "content_block_start", "index": index, "content_block": start})

    def delta(body: dict[str, Any], tokens: int) -> StreamEvent:
        return StreamEvent({"type": "content_block_delta", "index": index, "delta": body}, tokens)

    if kind in ("text", "thinking"):
        delta_type = f"{kind}_delta"
        pieces = output_pieces(block[kind])
        for text in _grouped(pieces, TOKENS_PER_DELTA):
            yield delta({"type": delta_type, kind: text}, len(output_pieces(text)))
        if kind == "thinking":
            yield delta({"type": "signature_delta", "signature": block["signature"]}, 0)
    else:
        partial = json.dumps(block["input"])
        for start_at in range(0, len(partial), JSON_CHARS_PER_DELTA):
            chunk = partial[start_at : start_at + JSON_CHARS_PER_DELTA]
            yield delta({"type": "input_json_delta", "partial_json": chunk}, 1)
    yield StreamEvent({"type": "content_block_stop", "index": index})


def stream_events(message: dict[str, Any]) -> Iterator[StreamEvent]:
    """message_start, each block's start/deltas/stop, message_delta and message_stop.

    Bedrock appends `amazon-bedrock-invocationMetrics` to message_stop; the caller adds it, as
    only the caller knows the latencies.
    """
    start_usage = {**message["usage"], "output_tokens": 1}
    yield StreamEvent(
        {
            "type": "message_start",
            "message": {
                **message,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        }
    )
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    yield StreamEvent(
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        }
    )
    yield StreamEvent({"type": "message_stop"})
