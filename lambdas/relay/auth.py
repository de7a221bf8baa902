"""Who is calling: the key from `x-api-key` or `Authorization: Bearer`, checked against settings."""

from __future__ import annotations

from collections.abc import Mapping

from relay.errors import ApiError, ErrorType
from relay.settings import AuthMode, Settings


def presented_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def authenticate(headers: Mapping[str, str], settings: Settings) -> None:
    """Raise authentication_error unless the request carries a key this relay accepts."""
    if settings.auth is AuthMode.API_GATEWAY:
        return
    key = presented_key(headers)
    if key is None:
        raise ApiError(
            ErrorType.AUTHENTICATION,
            "Missing API key: send it as 'x-api-key' or 'Authorization: Bearer <key>'.",
            "missing_key",
        )
    if not settings.allows(key):
        raise ApiError(ErrorType.AUTHENTICATION, "Invalid API key.", "invalid_key")
