"""Amazon event-stream framing of InvokeModelWithResponseStream, with moto's encoder.

Each Anthropic stream event travels as a `chunk` event whose JSON payload holds the event,
base64-encoded, under `bytes` (botocore decodes it back to bytes). Bedrock also pads the
payload with a `p` field of varying length so sizes do not reveal tokens; clients ignore it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from moto.core.eventstream import EventStreamEncoder

from relaykit.simulator.errors import STREAM_ERRORS, BedrockError, ErrorType

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_ENCODER = EventStreamEncoder()
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def chunk_frame(event: Mapping[str, Any]) -> bytes:
    """One Anthropic stream event as a `chunk` event-stream message."""
    data = json.dumps(event, separators=(",", ":")).encode()
    padding = _PADDING[: len(data) % len(_PADDING) + 1]
    payload = {"bytes": base64.b64encode(data).decode(), "p": padding}
    return event_frame("chunk", json.dumps(payload).encode())


def event_frame(event_type: str, payload: bytes) -> bytes:
    """One event-stream `event` message: ConverseStream's members, or InvokeModel's `chunk`."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return bytes(_ENCODER.encode_message(headers, payload))


def exception_frame(error: BedrockError) -> bytes:
    """A mid-stream error; botocore raises it as EventStreamError with the member's name."""
    error_type = error.type if error.type in STREAM_ERRORS else ErrorType.INTERNAL_SERVER
    headers = {
        ":exception-type": error_type.stream_code,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return bytes(_ENCODER.encode_message(headers, error.payload()))
