"""Errors as values: an Anthropic error type, an HTTP status and a message; rendered in one place.

The shape is Anthropic's own (`{"type": "error", "error": {"type": ..., "message": ...}}`), so
every client SDK raises its usual exception class for each status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorType(StrEnum):
    INVALID_REQUEST = "invalid_request_error"
    AUTHENTICATION = "authentication_error"
    PERMISSION = "permission_error"
    NOT_FOUND = "not_found_error"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit_error"
    API = "api_error"
    TIMEOUT = "timeout_error"
    OVERLOADED = "overloaded_error"


STATUS: dict[ErrorType, int] = {
    ErrorType.INVALID_REQUEST: 400,
    ErrorType.AUTHENTICATION: 401,
    ErrorType.PERMISSION: 403,
    ErrorType.NOT_FOUND: 404,
    ErrorType.REQUEST_TOO_LARGE: 413,
    ErrorType.RATE_LIMIT: 429,
    ErrorType.API: 500,
    ErrorType.TIMEOUT: 504,
    ErrorType.OVERLOADED: 529,
}


# Not frozen: the exception machinery (and Starlette) set attributes such as __traceback__.
@dataclass(eq=False)
class ApiError(Exception):
    """A failure the client sees. `code` is a short machine name for logs and metrics."""

    type: ErrorType
    message: str
    code: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # Only for HTTP-level failures whose status Anthropic's table lacks (405).
    http_status: int | None = None

    @property
    def status(self) -> int:
        return self.http_status or STATUS[self.type]

    def payload(self) -> dict[str, object]:
        return {"type": "error", "error": {"type": self.type.value, "message": self.message}}

    def body(self) -> bytes:
        return json.dumps(self.payload(), separators=(",", ":")).encode()


def invalid_request(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(ErrorType.INVALID_REQUEST, message, code)


def not_found(message: str) -> ApiError:
    return ApiError(ErrorType.NOT_FOUND, message, "not_found")
