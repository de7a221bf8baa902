"""Structured outputs (`output_config.format`) for models and backends that do not take them.

Where Bedrock honours `output_config.format` natively (the catalog's `structured_outputs`), the
field passes unchanged. Elsewhere the relay emulates it the way mature SDKs do: one tool whose
input schema is the requested schema, forced with `tool_choice`; the tool's input comes back as
the reply's JSON text, in plain and streamed replies, with `end_turn` where the model stopped to
call the tool. A schema whose root is not an object is wrapped in `{"value": ...}` (tool inputs
are objects) and unwrapped on the way back. An open schema (an object without
`"additionalProperties": false`, such as OpenAI's json_object mode) is emulated on every model:
native structured outputs only take closed objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from relay.errors import invalid_request

TOOL = "structured_output"
_WRAPPED = "value"


@dataclass(frozen=True)
class Emulation:
    """How one request's structured output was emulated, for reading its reply."""

    wrapped: bool


def requested(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body's `output_config.format`, checked, or None."""
    config = body.get("output_config")
    if not isinstance(config, dict) or "format" not in config:
        return None
    fmt = config["format"]
    if not (
        isinstance(fmt, dict)
        and fmt.get("type") == "json_schema"
        and isinstance(fmt.get("schema"), dict)
    ):
        raise invalid_request(
            'output_config.format: expected {"type": "json_schema", "schema": {...}}',
            "bad_output_format",
        )
    return fmt


def closed(schema: object) -> bool:
    """Whether every object in `schema` forbids additional properties (native outputs need it)."""
    if isinstance(schema, list):
        return all(closed(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object and schema.get("additionalProperties") is not False:
        return False
    return all(closed(value) for key, value in schema.items() if key != "additionalProperties")


def emulate(body: dict[str, Any], fmt: dict[str, Any], model_name: str) -> Emulation:
    """Replace `output_config.format` in `body` (in place) by a forced tool."""
    why = f"{model_name} has no native structured outputs on this relay's backends, so the relay "
    if body.get("tools"):
        raise invalid_request(
            f"output_config.format with tools: {why}emulates it with a forced tool, which would "
            "keep the model from calling yours. Send the tools and the format in separate "
            "requests, or use a model with native structured outputs (GET /v1/models lists "
            "`structured_outputs`)",
            "structured_output_with_tools",
        )
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        raise invalid_request(
            f"output_config.format with thinking: {why}emulates it with a forced tool, and "
            "thinking cannot be combined with a forced tool. Turn thinking off, or use a model "
            "with native structured outputs (GET /v1/models lists `structured_outputs`)",
            "structured_output_with_thinking",
        )
    config = {k: v for k, v in body["output_config"].items() if k != "format"}
    if config:
        body["output_config"] = config
    else:
        del body["output_config"]
    schema: dict[str, Any] = fmt["schema"]
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {"type": "object", "properties": {_WRAPPED: schema}, "required": [_WRAPPED]}
    body["tools"] = [
        {
            "name": TOOL,
            "description": "Give the answer: call this tool with it, as its input.",
            "input_schema": schema,
        }
    ]
    body["tool_choice"] = {"type": "tool", "name": TOOL}
    return Emulation(wrapped)


def _text(emulation: Emulation, value: object) -> str:
    if emulation.wrapped and isinstance(value, dict):
        value = value.get(_WRAPPED)
    return json.dumps(value, ensure_ascii=False)


def reply(message: dict[str, Any], emulation: Emulation) -> dict[str, Any]:
    """A whole reply with the tool call turned into the JSON text it stands for."""
    content = []
    called = False
    for block in message.get("content") or []:
        if block.get("type") == "tool_use" and block.get("name") == TOOL:
            content.append({"type": "text", "text": _text(emulation, block.get("input"))})
            called = True
        elif block.get("type") != "text" or not called:
            content.append(block)
    stop = message.get("stop_reason")
    return {
        **message,
        "content": content,
        "stop_reason": "end_turn" if called and stop == "tool_use" else stop,
    }


@dataclass
class EventRewriter:
    """Streamed events with the tool call spelled as text deltas (one per stream)."""

    emulation: Emulation
    index: int | None = None
    buffered: list[str] = field(default_factory=list)

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        block = event.get("content_block") or {}
        if kind == "content_block_start" and block.get("name") == TOOL:
            self.index = event.get("index")
            return [{**event, "content_block": {"type": "text", "text": ""}}]
        mine = self.index is not None and event.get("index") == self.index
        if kind == "content_block_delta" and mine:
            partial = str((event.get("delta") or {}).get("partial_json", ""))
            if self.emulation.wrapped:
                # The unwrapped value is only known once the whole input is.
                self.buffered.append(partial)
                return []
            return [{**event, "delta": {"type": "text_delta", "text": partial}}]
        if kind == "content_block_stop" and mine and self.emulation.wrapped:
            joined = "".join(self.buffered)
            value = json.loads(joined) if joined else {}
            text = {"type": "text_delta", "text": _text(self.emulation, value)}
            return [{"type": "content_block_delta", "index": self.index, "delta": text}, event]
        if kind == "message_delta" and self.index is not None:
            delta = event.get("delta") or {}
            if delta.get("stop_reason") == "tool_use":
                return [{**event, "delta": {**delta, "stop_reason": "end_turn"}}]
        return [event]
