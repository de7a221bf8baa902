"""CountTokens' `converse` input, read as the Messages body it stands for (for counting only)."""

from __future__ import annotations

from typing import Any


def _block(block: dict[str, Any]) -> dict[str, Any] | None:
    if "text" in block:
        return {"type": "text", "text": str(block["text"])}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "name": use.get("name", ""), "input": use.get("input", {})}
    if "toolResult" in block:
        parts = block["toolResult"].get("content", [])
        text = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
        return {"type": "tool_result", "content": text}
    if "image" in block or "document" in block:
        return {"type": "image"}
    return None  # cachePoint and the like add no tokens


def messages_body(converse: dict[str, Any]) -> dict[str, Any]:
    """The Messages-API body whose input tokens equal those of a Converse request."""
    messages = [
        {
            "role": message.get("role"),
            "content": [b for b in map(_block, message.get("content", [])) if b is not None],
        }
        for message in converse.get("messages", [])
        if isinstance(message, dict)
    ]
    system = [
        {"type": "text", "text": str(s["text"])}
        for s in converse.get("system", [])
        if isinstance(s, dict) and "text" in s
    ]
    tools = [
        {
            "name": spec.get("name", ""),
            "description": spec.get("description", ""),
            "input_schema": spec.get("inputSchema", {}).get("json", {}),
        }
        for tool in converse.get("toolConfig", {}).get("tools", [])
        if isinstance(tool, dict) and isinstance(spec := tool.get("toolSpec"), dict)
    ]
    return {"messages": messages, "system": system, "tools": tools}
