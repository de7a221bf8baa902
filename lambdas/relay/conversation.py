"""Mid-conversation system messages (`role: "system"` inside `messages`) for models that do not
take them, folded where they keep their text and their place in the conversation:

- before the first user or assistant message: appended to the top-level `system` prompt;
- right after a user message: appended to that user turn;
- after an assistant message: put at the start of the next user turn (after its tool results,
  which must lead a user turn), or, at the end of the conversation, as a user turn of its own.

Text folded into a user turn is wrapped in `<system-reminder>` tags, the convention Claude Code
itself uses for system text inside user turns, so the model can tell it from the user's words;
the text itself, its other block keys (cache_control) and its order are kept.
"""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def has_system_messages(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "system" for m in messages
    )


def _blocks(content: object) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [dict(block) for block in content] if isinstance(content, list) else []


def _reminders(blocks: list[Block]) -> list[Block]:
    return [
        {**b, "text": f"<system-reminder>\n{b.get('text', '')}\n</system-reminder>"} for b in blocks
    ]


def fold_system_messages(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its mid-conversation system messages folded (a new dict; `body` is kept)."""
    system = _blocks(body.get("system"))
    turns: list[dict[str, Any]] = []
    pending: list[Block] = []
    for message in body["messages"]:
        blocks = _blocks(message.get("content"))
        if message.get("role") == "system":
            if not turns:
                system.extend(blocks)
            elif turns[-1]["role"] == "user":
                turns[-1]["content"].extend(_reminders(blocks))
            else:
                pending.extend(_reminders(blocks))
            continue
        turn = {**message, "content": blocks}
        if pending and turn["role"] == "user":
            results = len(_leading_results(blocks))
            turn["content"] = [*blocks[:results], *pending, *blocks[results:]]
            pending = []
        turns.append(turn)
    if pending:
        turns.append({"role": "user", "content": pending})
    folded = {**body, "messages": turns}
    if system:
        folded["system"] = system
    return folded


def _leading_results(blocks: list[Block]) -> list[Block]:
    leading = []
    for block in blocks:
        if block.get("type") != "tool_result":
            break
        leading.append(block)
    return leading
