"""The relay's configuration, read from the environment once, at the edge.

Everything below `create_app` takes a `Settings`; nothing else reads `os.environ`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from relay.aliases import AliasError, parse_aliases
from relay.catalog import CATALOG, Catalog, Model, Routing, UnknownModelError
from relay.latency import HedgePolicy, LatencyConfigError, parse_deadlines, parse_hedge
from relay.routers import RouterError, Routers, parse_routers

_E = TypeVar("_E", bound=StrEnum)


class AuthMode(StrEnum):
    """KEYS: the relay checks the key itself. API_GATEWAY: API Gateway already did (usage plans)."""

    KEYS = "keys"
    API_GATEWAY = "api-gateway"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and the fix."""


def metrics_per_key(env: Mapping[str, str]) -> bool:
    """RELAY_METRICS_PER_KEY=true adds the `model`+`key` dimension set to every metric (one
    CloudWatch custom metric per key, model and metric name: $0.30 a month each)."""
    return env.get("RELAY_METRICS_PER_KEY", "").strip().lower() in ("1", "true", "yes")


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
    # Behind API Gateway: ids (rk_...) of gateway keys the table does not know that may still
    # call, without limits. Any other key the table does not know is refused.
    unlimited_key_ids: frozenset[str] = frozenset()
    bedrock_endpoint_url: str | None = None
    guardrail_id: str | None = None
    guardrail_version: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    # A request's headers: Claude Code and the SDKs send ~20 headers in ~2 KB; API Gateway
    # itself refuses more than 10 KB. Past these, 431 in the API's shape.
    max_headers: int = 100
    max_header_bytes: int = 32 * 1024
    # Seconds a client may take to send its whole body (a 32 MB body needs ~3 MB/s); slower or
    # stalled clients get 408 instead of holding a connection and its buffers.
    body_timeout: float = 10.0
    # Worker threads for blocking calls (DynamoDB, Vertex AI): anyio's default is 40. A DynamoDB
    # call takes ~5-20 ms, so 64 threads carry thousands a second; Bedrock calls use none.
    threads: int = 64
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    # Bedrock does not say when to retry after throttling; this is what the client is told
    # once the relay's own retries are spent.
    retry_after_seconds: int = 5
    # Beta flags the operator allows through beyond the built-in policy (comma-separated names).
    extra_betas: frozenset[str] = frozenset()
    # DynamoDB table of keys, limits, budgets and usage records (and the cache, unless its own).
    table_name: str | None = None
    cache_table_name: str | None = None
    dynamodb_endpoint_url: str | None = None
    # Where usage records go when the table does not take them: a file path or an SQS queue URL.
    usage_spool: str | None = None
    cache_ttl_seconds: int = 3600
    retry_attempts: int = 3
    retry_base_delay: float = 0.25
    retry_max_delay: float = 4.0
    retry_deadline: float = 30.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    # Per model alias, the routes tried after the primary one, in order.
    fallbacks: dict[str, tuple[FallbackStep, ...]] = field(default_factory=dict)
    # CloudWatch metrics in Embedded Metric Format on stdout (on by default inside Lambda).
    metrics: bool = False
    # Where "vertex" fallback steps go when they name no region.
    vertex_region: str = "global"
    # The relay's own region (its tables live there); boto3's default when unset.
    table_region: str | None = None
    # The shipped catalog, with the operator's RELAY_CATALOG_EXTRA additions and overrides.
    catalog: Catalog = CATALOG
    # (pattern, model) pairs: a model name the relay does not serve that matches a pattern (`*`
    # matches anything) is served as that model, with a warning header.
    model_aliases: tuple[tuple[str, str], ...] = ()
    # Unserved claude-opus-*/claude-sonnet-*/claude-haiku-* ids and Claude Code's opus, sonnet
    # and haiku are served as the newest served model of that family (a warning says so).
    family_aliases: bool = True
    # Virtual model names whose rules pick a served model (relay.routers).
    routers: Routers = field(default_factory=lambda: Routers({}))
    # Cheaper models, in order, that serve a budgeted key's request its budget would not cover
    # at the model asked for (a key's own list comes first).
    budget_downgrade: tuple[Model, ...] = ()
    # Route label pattern -> seconds a stream may take to its first byte (relay.latency).
    ttfb_deadlines: tuple[tuple[str, float], ...] = ()
    hedge: HedgePolicy | None = None
    # Message Batches (`/v1/messages/batches`) on Bedrock batch inference: the bucket of their
    # input, output and state, and the service role Bedrock assumes to run the jobs. Unset: 404.
    batch_bucket: str | None = None
    batch_role_arn: str | None = None
    # Bedrock's minimum records per batch inference job (a service quota): a batch with fewer
    # requests for a model runs them on demand, at on-demand prices.
    batch_min_records: int = 100
    # Local mode and tests: S3 in an embedded AWS.
    batch_s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.auth is AuthMode.KEYS and not (self.key_digests or self.table_name):
            raise ConfigError(
                "no keys: set RELAY_TABLE_NAME (keys issued with `relaykit keys create`) or "
                "RELAY_API_KEYS, or RELAY_AUTH=api-gateway when API Gateway checks keys"
            )
        if self.auth is AuthMode.API_GATEWAY and not (
            self.table_name or self.key_digests or self.unlimited_key_ids
        ):
            raise ConfigError(
                "RELAY_AUTH=api-gateway admits only keys the relay knows: set RELAY_TABLE_NAME "
                "(keys issued with `relaykit keys create --usage-plan`), or list gateway keys to "
                "admit without limits in RELAY_UNLIMITED_KEY_IDS (their rk_... ids)"
            )
        if bool(self.batch_bucket) != bool(self.batch_role_arn):
            raise ConfigError(
                "RELAY_BATCH_BUCKET and RELAY_BATCH_ROLE_ARN go together: set both (the CDK "
                "stack does) or neither"
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
        try:
            catalog = _catalog(env)
            aliases = parse_aliases(env.get("RELAY_MODEL_ALIASES", ""), "RELAY_MODEL_ALIASES")
            routers = parse_routers(env.get("RELAY_ROUTERS", ""))
            deadlines = parse_deadlines(env.get("RELAY_TTFB_DEADLINE_MS", ""))
            hedge = parse_hedge(env.get("RELAY_HEDGE", ""))
        except (AliasError, RouterError, LatencyConfigError) as error:
            raise ConfigError(str(error)) from None
        return cls(
            bedrock_region=region,
            routing=_enum(env, "RELAY_ROUTING", Routing, Routing.GLOBAL),
            models=_models(env.get("RELAY_MODELS", ""), catalog) or None,
            auth=_enum(env, "RELAY_AUTH", AuthMode, AuthMode.KEYS),
            key_digests=frozenset(key_digest(k) for k in _csv(env.get("RELAY_API_KEYS", ""))),
            unlimited_key_ids=frozenset(_csv(env.get("RELAY_UNLIMITED_KEY_IDS", ""))),
            bedrock_endpoint_url=env.get("RELAY_BEDROCK_ENDPOINT_URL") or None,
            guardrail_id=env.get("RELAY_GUARDRAIL_ID") or None,
            guardrail_version=env.get("RELAY_GUARDRAIL_VERSION") or None,
            max_body_bytes=_int(env, "RELAY_MAX_BODY_BYTES", cls.max_body_bytes),
            max_headers=_int(env, "RELAY_MAX_HEADERS", cls.max_headers),
            max_header_bytes=_int(env, "RELAY_MAX_HEADER_BYTES", cls.max_header_bytes),
            body_timeout=env_number(env, "RELAY_BODY_TIMEOUT", cls.body_timeout),
            threads=_int(env, "RELAY_THREADS", cls.threads),
            connect_timeout=env_number(env, "RELAY_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=env_number(env, "RELAY_READ_TIMEOUT", cls.read_timeout),
            retry_after_seconds=_int(env, "RELAY_RETRY_AFTER_SECONDS", cls.retry_after_seconds),
            extra_betas=frozenset(_csv(env.get("RELAY_EXTRA_BETAS", ""))),
            table_name=env.get("RELAY_TABLE_NAME") or None,
            cache_table_name=env.get("RELAY_CACHE_TABLE_NAME") or None,
            dynamodb_endpoint_url=env.get("RELAY_DYNAMODB_ENDPOINT_URL") or None,
            usage_spool=env.get("RELAY_USAGE_SPOOL") or None,
            cache_ttl_seconds=_int(env, "RELAY_CACHE_TTL_SECONDS", cls.cache_ttl_seconds),
            retry_attempts=_int(env, "RELAY_RETRY_ATTEMPTS", cls.retry_attempts),
            retry_base_delay=env_number(env, "RELAY_RETRY_BASE_DELAY", cls.retry_base_delay),
            retry_max_delay=env_number(env, "RELAY_RETRY_MAX_DELAY", cls.retry_max_delay),
            retry_deadline=env_number(env, "RELAY_RETRY_DEADLINE", cls.retry_deadline),
            breaker_threshold=_int(env, "RELAY_BREAKER_THRESHOLD", cls.breaker_threshold),
            breaker_cooldown=env_number(env, "RELAY_BREAKER_COOLDOWN", cls.breaker_cooldown),
            fallbacks=parse_fallbacks(env.get("RELAY_FALLBACKS", ""), catalog),
            metrics=_metrics(env),
            vertex_region=env.get("RELAY_VERTEX_REGION") or "global",
            table_region=env.get("AWS_REGION") or None,
            catalog=catalog,
            model_aliases=aliases,
            family_aliases=_switch(env, "RELAY_FAMILY_ALIASES", default=True),
            routers=routers,
            budget_downgrade=_models(
                env.get("RELAY_BUDGET_DOWNGRADE", ""), catalog, "RELAY_BUDGET_DOWNGRADE"
            ),
            ttfb_deadlines=deadlines,
            hedge=hedge,
            batch_bucket=env.get("RELAY_BATCH_BUCKET") or None,
            batch_role_arn=env.get("RELAY_BATCH_ROLE_ARN") or None,
            batch_min_records=_int(env, "RELAY_BATCH_MIN_RECORDS", cls.batch_min_records),
            batch_s3_endpoint_url=env.get("RELAY_BATCH_S3_ENDPOINT_URL") or None,
        )


@dataclass(frozen=True)
class FallbackStep:
    """One route after the primary: Bedrock in another region or routing, Vertex AI, or another
    model (served its own primary way)."""

    kind: str
    region: str | None = None
    routing: Routing | None = None
    model: Model | None = None


_FALLBACK_HELP = (
    "RELAY_FALLBACKS is a JSON object from model alias to a list of steps, e.g. "
    '{"claude-haiku-4-5": ["bedrock:us-west-2", "bedrock:eu-west-1:geographic", "vertex",'
    ' "vertex:us-east5", "model:claude-sonnet-4-5"]}'
)


def parse_fallbacks(raw: str, catalog: Catalog = CATALOG) -> dict[str, tuple[FallbackStep, ...]]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"RELAY_FALLBACKS is not valid JSON. {_FALLBACK_HELP}") from None
    if not isinstance(data, dict):
        raise ConfigError(_FALLBACK_HELP)
    chains: dict[str, tuple[FallbackStep, ...]] = {}
    for alias, steps in data.items():
        model = _models(alias, catalog)[0]
        if not isinstance(steps, list) or not all(isinstance(x, str) for x in steps):
            raise ConfigError(
                f"RELAY_FALLBACKS[{alias!r}] must be a list of strings. {_FALLBACK_HELP}"
            )
        chains[model.alias] = tuple(_step(alias, step, catalog) for step in steps)
    return chains


def _step(alias: str, step: str, catalog: Catalog) -> FallbackStep:
    kind, _, rest = step.partition(":")
    if kind == "bedrock" and rest:
        region, _, routing = rest.partition(":")
        try:
            return FallbackStep("bedrock", region, Routing(routing) if routing else None)
        except ValueError:
            pass
    elif kind == "vertex":
        return FallbackStep("vertex", rest or None)
    elif kind == "model" and rest:
        return FallbackStep("model", model=_models(rest, catalog)[0])
    raise ConfigError(f"RELAY_FALLBACKS[{alias!r}]: cannot read step {step!r}. {_FALLBACK_HELP}")


def _metrics(env: Mapping[str, str]) -> bool:
    raw = env.get("RELAY_METRICS", "")
    if raw not in ("", "emf", "off"):
        raise ConfigError(f"RELAY_METRICS={raw!r} is not valid; use 'emf' or 'off'")
    return raw == "emf" or (not raw and bool(env.get("AWS_LAMBDA_FUNCTION_NAME")))


def _catalog(env: Mapping[str, str]) -> Catalog:
    """The shipped catalog, with RELAY_CATALOG_EXTRA's models when it is set. Its parser's
    pydantic models are built only then: they cost a cold start ~50-100 ms for nothing."""
    if not env.get("RELAY_CATALOG_EXTRA", "").strip():
        return CATALOG
    from relay.catalog_extra import CatalogExtraError, catalog_from_env

    try:
        return catalog_from_env(env)
    except CatalogExtraError as error:
        raise ConfigError(str(error)) from None


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _models(value: str, catalog: Catalog, setting: str = "RELAY_MODELS") -> tuple[Model, ...]:
    try:
        return tuple(catalog.by_alias(alias) for alias in _csv(value))
    except UnknownModelError as error:
        raise ConfigError(
            f"{setting} names an unknown model {error.args[0]!r}; catalog aliases: "
            + ", ".join(m.alias for m in catalog.models)
        ) from None


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("on", "off"):
        raise ConfigError(f"{name}={raw!r} is not valid; use 'on' or 'off'")
    return raw == "on"


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
    return int(env_number(env, name, default))


def env_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment, or ConfigError naming the variable."""
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
