"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, same HTTP status.

The openai SDK picks its exception class from the status (401 AuthenticationError, 429
RateLimitError, ...), so the status and message carry the meaning; `type` keeps the relay's error
type, `code` its machine name, and `param` names the field when the message starts with one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from relay.errors import ApiError

# The relay writes field errors as "<field>: <what is wrong>" (schema.py, core.py, request.py).
_FIELD = re.compile(r"([A-Za-z_][\w.\[\]]*): ")


def error_object(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The one place OpenAI's error object is built: HTTP bodies and stream chunks use it."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code or None}}


def payload(error: ApiError) -> dict[str, Any]:
    field = _FIELD.match(error.message)
    return error_object(
        error.message, error.type.value, error.code, field.group(1) if field else None
    )


def body(error: ApiError) -> bytes:
    return json.dumps(payload(error), separators=(",", ":")).encode()


def from_event(event: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic stream `error` event as OpenAI's error object (the SDK raises APIError)."""
    error = event.get("error")
    error = error if isinstance(error, dict) else {}
    return error_object(
        str(error.get("message") or "The stream failed."), str(error.get("type") or "api_error")
    )
