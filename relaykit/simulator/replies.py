"""Deterministic replies: derived from the request, labelled as simulated, never the prompt.

The reply names the model it stands in for ("[simulated Claude Haiku 4.5 on Bedrock] ...") and
says what it saw of the last user message as a word count and a short digest, never its text.
With tools it calls the tool that tool_choice names, or (auto) one whose name the last user
message mentions, or (any) that or the first, with an input built from the tool's schema; after a
tool_result it answers in text; with thinking it thinks first. With `output_config.format` the
text is JSON that fits the schema.
stop_sequences and max_tokens cut the reply the way the model's stop reasons describe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from relaykit.simulator.request import InvokeRequest
from relaykit.simulator.tokens import estimate, output_pieces
from relaykit.simulator.tool_inputs import sample_object, sample_value

_REMINDER = "<system-reminder>"


@dataclass(frozen=True)
class Reply:
    """The generated part of a Message: content blocks, why it stopped, tokens it took."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


@dataclass(frozen=True)
class _Seen:
    """What the reply may say about the last user message: a size and a digest."""

    words: int
    digest: str
    tool_results: int
    # Lower-case words of its last text block, to see which tools it names (never echoed or
    # logged).
    vocabulary: frozenset[str] = frozenset()


def request_digest(request: InvokeRequest) -> str:
    """A stable digest of the whole request body (the seed of ids and signatures)."""
    canonical = json.dumps(request.body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.model.bedrock_id}\n{canonical}".encode()).hexdigest()


def _last_user_message(request: InvokeRequest) -> _Seen:
    message: dict[str, Any] = next(
        (m for m in reversed(request.messages) if m.get("role") == "user"), {}
    )
    content = message.get("content", "")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    text = " ".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    results = sum(1 for b in blocks if b.get("type") == "tool_result")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    # Only the last text block that is not a system reminder asks: agents (Claude Code), and the
    # relay for folded system messages, put reminders that name every tool around the user's
    # own words.
    asked = next(
        (
            str(b.get("text", ""))
            for b in reversed(blocks)
            if b.get("type") == "text" and not str(b.get("text", "")).startswith(_REMINDER)
        ),
        "",
    )
    return _Seen(len(text.split()), digest, results, frozenset(_words(asked)))


def _words(text: str) -> list[str]:
    """Words of three letters or more; `get_weather` and `getWeather` give get, weather."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w.lower() for w in re.findall(r"[A-Za-z]{3,}", spaced)]


def _named(tool: dict[str, Any], seen: _Seen) -> bool:
    return any(word in seen.vocabulary for word in _words(str(tool.get("name", ""))))


def _chosen_tool(request: InvokeRequest, seen: _Seen) -> dict[str, Any] | None:
    choice = request.tool_choice.get("type", "auto")
    if seen.tool_results or choice == "none":
        return None
    custom = [t for t in request.tools if t.get("type", "custom") == "custom"]
    if choice == "tool":
        return next((t for t in request.tools if t["name"] == request.tool_choice["name"]), None)
    named = next((t for t in custom if _named(t, seen)), None)
    # `auto` calls a tool only when the user's words name it (`weather` for get_weather), as a
    # model would; agents such as Claude Code would otherwise call tools forever. `any` must.
    if choice == "any":
        return named or (custom[0] if custom else None)
    return named


def _drafts(request: InvokeRequest, digest: str) -> list[dict[str, Any]]:
    """The reply before stop sequences and max_tokens cut it."""
    provider = request.dialect.name
    label = f"[simulated {request.model.name} on {provider}]"
    seen = _last_user_message(request)
    about = f"{seen.words} words (sha256 {seen.digest})"
    drafts: list[dict[str, Any]] = []
    if request.thinking:
        drafts.append(
            {
                "type": "thinking",
                "thinking": f"{label} Thinking about a last user message of {about} before "
                "answering; this reasoning is simulated.",
            }
        )
    tool = _chosen_tool(request, seen)
    if tool is not None:
        if request.tool_choice.get("type", "auto") == "auto":
            drafts.append(
                {
                    "type": "text",
                    "text": f"{label} Calling the tool {tool['name']} with a simulated input.",
                }
            )
        schema = tool.get("input_schema", {})
        drafts.append(
            {
                "type": "tool_use",
                "id": f"toolu_{request.dialect.tag}_{digest[:24]}",
                "name": tool["name"],
                "input": sample_object(schema, root=schema) if isinstance(schema, dict) else {},
            }
        )
        return drafts
    if request.output_schema is not None:
        # Structured outputs: the whole text is JSON that fits the schema, as the model's is.
        answer = sample_value(request.output_schema, "answer", root=request.output_schema)
        drafts.append({"type": "text", "text": json.dumps(answer)})
        return drafts
    opening = (
        f"Received {seen.tool_results} tool result(s); the last user message has {about}."
        if seen.tool_results
        else f"The last user message has {about}."
    )
    drafts.append(
        {
            "type": "text",
            "text": f"{label} {opening} This reply comes from the relaykit {provider} "
            "simulator; no model was called. The same request always gets the same reply.",
        }
    )
    return drafts


def _signature(thinking: str, digest: str) -> str:
    raw = hashlib.sha256(f"{digest}\n{thinking}".encode()).digest()
    return base64.b64encode(raw + hashlib.sha256(raw).digest()).decode()


def _first_stop(text: str, stop_sequences: list[str]) -> tuple[int, str] | None:
    hits = [(text.find(s), s) for s in stop_sequences if s and s in text]
    return min(hits) if hits else None


def build_reply(request: InvokeRequest) -> Reply:
    """The reply to `request`: the same request always gets the same reply."""
    digest = request_digest(request)
    budget = request.max_tokens
    content: list[dict[str, Any]] = []
    stop_reason: str | None = None
    stop_sequence: str | None = None
    for draft in _drafts(request, digest):
        if draft["type"] == "tool_use":
            cost = estimate(draft["name"] + json.dumps(draft["input"]))
            if cost > budget:
                stop_reason = "max_tokens"
                break
            budget -= cost
            content.append(draft)
            continue
        field = draft["type"]
        text = draft[field]
        hit = _first_stop(text, request.stop_sequences) if field == "text" else None
        pieces = output_pieces(text[: hit[0]] if hit else text)
        if len(pieces) > budget:
            pieces, stop_reason = pieces[:budget], "max_tokens"
        elif hit:
            stop_reason, stop_sequence = "stop_sequence", hit[1]
        budget -= len(pieces)
        text = "".join(pieces) if stop_reason == "max_tokens" else text[: hit[0]] if hit else text
        if text:
            block = {**draft, field: text}
            if field == "thinking":
                block["signature"] = _signature(text, digest)
            content.append(block)
        if stop_reason:
            break
    if stop_reason is None:
        stop_reason = "tool_use" if content and content[-1]["type"] == "tool_use" else "end_turn"
    return Reply(content, stop_reason, stop_sequence, max(1, request.max_tokens - budget))
