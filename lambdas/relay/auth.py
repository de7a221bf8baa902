"""Who is calling and what they may do: the key from `x-api-key` or `Authorization: Bearer`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from relay.catalog import Model
from relay.errors import ApiError, ErrorType
from relay.keys import ApiKey, KeyStore, key_id_of, unlimited
from relay.settings import AuthMode, Settings, key_digest


class Headers(Protocol):
    """Request headers that may repeat (Starlette's)."""

    def getlist(self, key: str) -> list[str]: ...


def presented_key(headers: Headers) -> str | None:
    """The secret the caller sent, trimmed; a header sent twice is refused rather than one of
    its values picked (a proxy and a client may each have added one)."""
    keys, authorization = headers.getlist("x-api-key"), headers.getlist("authorization")
    if len(keys) > 1 or len(authorization) > 1:
        name = "x-api-key" if len(keys) > 1 else "authorization"
        raise ApiError(
            ErrorType.AUTHENTICATION,
            f"The '{name}' header was sent more than once; send one key.",
            "duplicate_key_header",
        )
    key = keys[0].strip() if keys else ""
    if key:
        return key
    scheme, _, token = (authorization[0] if authorization else "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def authenticate(headers: Headers, settings: Settings, keys: KeyStore) -> ApiKey:
    """The caller's key, or authentication_error (no or unknown key) / permission_error
    (revoked or expired, or behind API Gateway a key the relay does not know). Blocking: it
    may read the key store."""
    secret = presented_key(headers)
    if secret is None:
        raise ApiError(
            ErrorType.AUTHENTICATION,
            "Missing API key: send it as 'x-api-key' or 'Authorization: Bearer <key>'.",
            "missing_key",
        )
    digest = key_digest(secret)
    key = keys.find(digest)
    if key is None:
        if settings.auth is AuthMode.API_GATEWAY:
            return _gateway_caller(key_id_of(digest), settings)
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


def _gateway_caller(key_id: str, settings: Settings) -> ApiKey:
    """API Gateway admitted the key, but the relay's table does not know it: it would run
    without limits or budgets, so only the operator can let it through, by listing it."""
    if key_id in settings.unlimited_key_ids:
        return unlimited(key_id, "api-gateway")
    raise ApiError(
        ErrorType.PERMISSION,
        f"API key {key_id} is not issued by this relay (relaykit keys create); an operator may "
        "admit it without limits in RELAY_UNLIMITED_KEY_IDS.",
        "key_unknown",
    )


def authorize(key: ApiKey, model: Model) -> None:
    """permission_error unless the key may use the model."""
    if not permits(key, model):
        raise ApiError(
            ErrorType.PERMISSION,
            f"API key {key.key_id} may not use {model.anthropic_id}; it may use: "
            + ", ".join(sorted(key.models)),
            "model_not_allowed",
        )
