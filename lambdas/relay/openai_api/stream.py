"""Anthropic stream events as OpenAI chat.completion.chunk objects, and their SSE encoding.

`ChunkStream` is pure but stateful (one per response): the role arrives in the first delta, text
as content deltas, each tool_use block as one tool_calls entry (id and name first, then its
input_json_delta fragments as argument fragments), the finish_reason in a last empty delta, the
usage in a chunk of its own when asked for, then `data: [DONE]`. An Anthropic `error` event
becomes a chunk carrying OpenAI's error object and ends the stream without [DONE].
"""

from __future__ import annotations

from typing import Any

from relay.core import add_usage
from relay.openai_api import errors
from relay.openai_api.response import finish_reason, usage
from relay.sse import compact_json

Chunk = dict[str, Any]

DONE = b"data: [DONE]\n\n"


def encode(chunk: Chunk) -> bytes:
    """One `data:` event."""
    return b"data: " + compact_json(chunk) + b"\n\n"


class ChunkStream:
    """Feeds on one stream's Anthropic events; returns the chunks each one becomes."""

    def __init__(self, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self.id = ""
        self.model = ""
        self.usage: dict[str, Any] = {}
        # Anthropic content block index -> index in OpenAI's tool_calls list.
        self.tools: dict[int, int] = {}

    def feed(self, event: dict[str, Any]) -> list[Chunk]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id, self.model = str(message.get("id", "")), str(message.get("model", ""))
            add_usage(self.usage, event)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "message_delta":
            add_usage(self.usage, event)
            reason = finish_reason((event.get("delta") or {}).get("stop_reason"))
            return [self._chunk({}, reason)]
        if kind == "message_stop" and self.include_usage:
            return [{**self._base(), "choices": [], "usage": usage(self.usage)}]
        if kind == "error":
            return [errors.from_event(event)]
        return []  # ping, content_block_stop, thinking: nothing to say

    def _block_start(self, event: dict[str, Any]) -> list[Chunk]:
        block = event.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        index = self.tools.setdefault(event.get("index", -1), len(self.tools))
        call = {
            "index": index,
            "id": block.get("id", ""),
            "type": "function",
            "function": {"name": block.get("name", ""), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, event: dict[str, Any]) -> list[Chunk]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        index = self.tools.get(event.get("index", -1))
        if delta.get("type") == "input_json_delta" and index is not None:
            fragment = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
            return [self._chunk({"tool_calls": [fragment]})]
        return []

    def _base(self) -> Chunk:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {**self._base(), "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI: null on every chunk but the usage chunk
        return chunk
