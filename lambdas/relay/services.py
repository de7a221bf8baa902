"""The relay's collaborators at the edge, built once per process from settings: backends per
provider and region, the key store, the ledger, the response cache and the resilience policy.

Tests and the CLI build them with other sessions or endpoints (the simulator, moto).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from relay.backends.base import Backend, OnThreads
from relay.keys import ChainedKeys, KeyStore, StaticKeys
from relay.ledger import Ledger, LogLedger
from relay.reachability import ReachabilityCache, http_probe, runtime_endpoint
from relay.resilience import BreakerBoard, Resilience, RetryPolicy
from relay.settings import ConfigError, Settings

if TYPE_CHECKING:
    import boto3
    from google.auth.credentials import Credentials

    from relay.backends.signed_http import AsyncClients
    from relay.backends.vertex_access import VertexSettings


class ResponseCache(Protocol):
    def cached(self, digest: str) -> dict[str, Any] | None: ...

    def remember(self, digest: str, reply: dict[str, Any], ttl_seconds: int) -> None: ...


@dataclass
class Backends:
    """One backend per (provider, region), created on first use and then reused."""

    settings: Settings
    session: boto3.session.Session | None = None
    vertex: VertexSettings | None = None
    # google-auth credentials for Vertex AI; None loads them from `vertex` (or ADC).
    vertex_credentials: Credentials | None = None
    _built: dict[tuple[str, str], Backend] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Bedrock's connection pools, shared by its regions.
    _clients: AsyncClients | None = None

    def __call__(self, kind: str, region: str) -> Backend:
        with self._lock:
            if (kind, region) not in self._built:
                self._built[kind, region] = self._build(kind, region)
            return self._built[kind, region]

    def _build(self, kind: str, region: str) -> Backend:
        if kind == "bedrock":
            from relay.backends.bedrock import BedrockBackend
            from relay.backends.signed_http import AsyncClients, HttpSettings

            if self._clients is None:
                timeouts = HttpSettings(self.settings.connect_timeout, self.settings.read_timeout)
                self._clients = AsyncClients(timeouts)
            return BedrockBackend.for_region(self.settings, region, self.session, self._clients)
        if self.vertex is None:
            raise ConfigError(
                "RELAY_FALLBACKS names Vertex AI but RELAY_VERTEX_PROJECT is not set: name the "
                "Google Cloud project (and RELAY_VERTEX_CREDENTIALS, the federation config)"
            )
        from relay.backends.vertex import VertexBackend

        located = dataclasses.replace(self.vertex, region=region)
        return OnThreads(VertexBackend.from_settings(located, self.vertex_credentials))


@dataclass
class Services:
    backends: Backends
    keys: KeyStore
    ledger: Ledger
    cache: ResponseCache | None
    resilience: Resilience
    # Whether the Bedrock region answers, for /health; None: /health reports liveness only.
    reachability: ReachabilityCache | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        session: boto3.session.Session | None = None,
        table_session: boto3.session.Session | None = None,
        vertex: VertexSettings | None = None,
        vertex_credentials: Credentials | None = None,
    ) -> Services:
        """`session` reaches Bedrock, `table_session` the tables (default: the same); both
        default to boto3's own credential chain. `vertex` says how to reach Vertex AI."""
        static = StaticKeys(settings.key_digests)
        keys: KeyStore = static
        ledger: Ledger = LogLedger()
        cache: ResponseCache | None = None
        board: BreakerBoard | None = None
        if settings.table_name:
            from relay.dynamo import DynamoStore

            store = DynamoStore.connect(
                settings.table_name,
                settings.table_region,
                settings.cache_table_name,
                settings.dynamodb_endpoint_url,
                table_session or session,
            )
            from relay.spool import SpooledLedger, open_spool

            where = settings.usage_spool
            spool = open_spool(where, table_session or session) if where else None
            keys, cache, board = ChainedKeys(static, store), store, store
            ledger = SpooledLedger(store, spool)
        policy = RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            deadline=settings.retry_deadline,
        )
        resilience = Resilience(
            policy, settings.breaker_threshold, settings.breaker_cooldown, board=board
        )
        backends = Backends(settings, session, vertex, vertex_credentials)
        endpoint = runtime_endpoint(settings.bedrock_region, settings.bedrock_endpoint_url)
        reachability = ReachabilityCache(http_probe(endpoint))
        return cls(backends, keys, ledger, cache, resilience, reachability)

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str]) -> Services:
        """Services as deployed: Vertex AI is configured when RELAY_VERTEX_PROJECT is set."""
        vertex = None
        if env.get("RELAY_VERTEX_PROJECT"):
            from relay.backends.vertex_access import VertexSettings

            vertex = VertexSettings.from_env(env)
        return cls.from_settings(settings, vertex=vertex)
