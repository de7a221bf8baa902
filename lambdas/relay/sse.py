"""Server-Sent Events as the Anthropic API writes them: `event: <type>`, then `data: <json>`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def compact_json(value: object) -> bytes:
    """UTF-8 JSON without spaces. A lone surrogate (an unpaired \\ud83d from upstream) has no
    UTF-8 form, so only then is non-ASCII written as \\u escapes, which carry it intact."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def encode(event: dict[str, Any]) -> bytes:
    """One event; its `type` names it, as in every Anthropic stream event."""
    kind = str(event["type"]).encode()
    return b"event: " + kind + b"\ndata: " + compact_json(event) + b"\n\n"


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A whole stream; like Anthropic's, it pings once right after `message_start`."""
    async for event in events:
        yield encode(event)
        if event.get("type") == "message_start":
            yield PING
