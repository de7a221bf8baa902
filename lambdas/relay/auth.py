"""Who is calling and what they may do: the key from `x-api-key` or `Authorization: Bearer`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from relay.catalog import Model
from relay.errors import ApiError, ErrorType
from relay.keys import ApiKey, KeyStore, unlimited
from relay.settings import AuthMode, Settings, key_digest

# Behind API Gateway (which checked the key), a caller whose key the relay does not know.
GATEWAY_CALLER = unlimited("api-gateway", "api-gateway")


def presented_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def authenticate(headers: Mapping[str, str], settings: Settings, keys: KeyStore) -> ApiKey:
    """The caller's key, or authentication_error (no or unknown key) / permission_error
    (revoked or expired). Blocking: it may read the key store."""
    secret = presented_key(headers)
    key = keys.find(key_digest(secret)) if secret else None
    if key is None:
        if settings.auth is AuthMode.API_GATEWAY:
            return GATEWAY_CALLER
        if secret is None:
            raise ApiError(
                ErrorType.AUTHENTICATION,
                "Missing API key: send it as 'x-api-key' or 'Authorization: Bearer <key>'.",
                "missing_key",
            )
        raise ApiError(ErrorType.AUTHENTICATION, "Invalid API key.", "invalid_key")
    if key.disabled:
        raise ApiError(ErrorType.PERMISSION, f"API key {key.key_id} is revoked.", "key_revoked")
    if key.valid_until is not None and key.valid_until <= datetime.now(UTC):
        raise ApiError(
            ErrorType.PERMISSION,
            f"API key {key.key_id} expired at {key.valid_until.isoformat()}.",
            "key_expired",
        )
    return key


def permits(key: ApiKey, model: Model) -> bool:
    """Whether the key may use the model."""
    return not key.models or model.anthropic_id in key.models


def authorize(key: ApiKey, model: Model) -> None:
    """permission_error unless the key may use the model."""
    if not permits(key, model):
        raise ApiError(
            ErrorType.PERMISSION,
            f"API key {key.key_id} may not use {model.anthropic_id}; it may use: "
            + ", ".join(sorted(key.models)),
            "model_not_allowed",
        )
