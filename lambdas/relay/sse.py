"""Server-Sent Events as the Anthropic API writes them: `event: <type>`, then `data: <json>`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def encode(event: dict[str, Any]) -> bytes:
    """One event; its `type` names it, as in every Anthropic stream event."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A whole stream; like Anthropic's, it pings once right after `message_start`."""
    async for event in events:
        yield encode(event)
        if event.get("type") == "message_start":
            yield PING
