"""The relay's configuration, read from the environment once, at the edge.

Everything below `create_app` takes a `Settings`; nothing else reads `os.environ`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from relay.catalog import MODELS, Model, Routing, UnknownModelError, by_alias

_E = TypeVar("_E", bound=StrEnum)


class AuthMode(StrEnum):
    """KEYS: the relay checks the key itself. API_GATEWAY: API Gateway already did (usage plans)."""

    KEYS = "keys"
    API_GATEWAY = "api-gateway"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and the fix."""


def key_digest(key: str) -> str:
    """Keys are compared and kept only as SHA-256 digests."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Settings:
    bedrock_region: str
    routing: Routing = Routing.GLOBAL
    # None: every catalog model Bedrock still serves that the routing reaches from the region.
    models: tuple[Model, ...] | None = None
    auth: AuthMode = AuthMode.KEYS
    key_digests: frozenset[str] = frozenset()
    bedrock_endpoint_url: str | None = None
    guardrail_id: str | None = None
    guardrail_version: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    # Bedrock does not say when to retry after throttling; this is what the client is told.
    retry_after_seconds: int = 5
    # Beta flags the operator allows through beyond the built-in policy (comma-separated names).
    extra_betas: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.auth is AuthMode.KEYS and not self.key_digests:
            raise ConfigError(
                "RELAY_API_KEYS is empty: set at least one key clients must send, or "
                "RELAY_AUTH=api-gateway when API Gateway checks keys in front of the relay"
            )
        if bool(self.guardrail_id) != bool(self.guardrail_version):
            raise ConfigError(
                "RELAY_GUARDRAIL_ID and RELAY_GUARDRAIL_VERSION go together: set both or neither"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        region = env.get("RELAY_BEDROCK_REGION") or env.get("AWS_REGION")
        if not region:
            raise ConfigError(
                "RELAY_BEDROCK_REGION is not set (nor AWS_REGION): name the region whose "
                "bedrock-runtime endpoint the relay calls, e.g. us-east-1"
            )
        return cls(
            bedrock_region=region,
            routing=_enum(env, "RELAY_ROUTING", Routing, Routing.GLOBAL),
            models=_models(env.get("RELAY_MODELS", "")) or None,
            auth=_enum(env, "RELAY_AUTH", AuthMode, AuthMode.KEYS),
            key_digests=frozenset(key_digest(k) for k in _csv(env.get("RELAY_API_KEYS", ""))),
            bedrock_endpoint_url=env.get("RELAY_BEDROCK_ENDPOINT_URL") or None,
            guardrail_id=env.get("RELAY_GUARDRAIL_ID") or None,
            guardrail_version=env.get("RELAY_GUARDRAIL_VERSION") or None,
            max_body_bytes=_int(env, "RELAY_MAX_BODY_BYTES", cls.max_body_bytes),
            connect_timeout=_float(env, "RELAY_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=_float(env, "RELAY_READ_TIMEOUT", cls.read_timeout),
            retry_after_seconds=_int(env, "RELAY_RETRY_AFTER_SECONDS", cls.retry_after_seconds),
            extra_betas=frozenset(_csv(env.get("RELAY_EXTRA_BETAS", ""))),
        )

    def allows(self, key: str) -> bool:
        return key_digest(key) in self.key_digests


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _models(value: str) -> tuple[Model, ...]:
    try:
        return tuple(by_alias(alias) for alias in _csv(value))
    except UnknownModelError as error:
        raise ConfigError(
            f"RELAY_MODELS names an unknown model {error.args[0]!r}; catalog aliases: "
            + ", ".join(m.alias for m in MODELS)
        ) from None


def _enum(env: Mapping[str, str], name: str, kind: type[_E], default: _E) -> _E:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not valid; use one of: {', '.join(e.value for e in kind)}"
        ) from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_number(env, name, default))


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value
