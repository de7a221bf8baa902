"""Server-Sent Events as the Anthropic API writes them: `event: <type>`, then `data: <json>`."""

from __future__ import annotations

import json
from typing import Any

from relay.errors import ApiError

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def encode(event: dict[str, Any]) -> bytes:
    """One event; its `type` names it, as in every Anthropic stream event."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def encode_error(error: ApiError) -> bytes:
    """The `error` event that ends a stream which failed after it started."""
    return encode(error.payload())
