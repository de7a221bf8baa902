"""API keys the relay issues: what a key may do, and how a presented key becomes one.

Keys are stored only as SHA-256 digests; the secret is shown once, when it is created.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

KEY_PREFIX = "sk-relay-"


def new_secret() -> str:
    return f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"


def key_id_of(digest: str) -> str:
    """The public id of a key: safe to log and to show in usage reports."""
    return f"rk_{digest[:16]}"


@dataclass(frozen=True)
class ApiKey:
    """A caller and its limits. `None` means no limit; empty `models` means every served model."""

    key_id: str
    owner: str
    models: frozenset[str] = frozenset()
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    valid_until: datetime | None = None
    disabled: bool = False
    # Opt in to the exact-match response cache for every request of this key.
    cache: bool = False
    # Keys naming the same group share cached replies; a key without one sees only its own.
    cache_group: str | None = None
    # Cheaper models (anthropic ids, in order) that serve a request the budget would not
    # cover at the model asked for, before it is refused (RELAY_BUDGET_DOWNGRADE otherwise).
    downgrade: tuple[str, ...] = ()
    created_at: datetime | None = field(default=None, compare=False)

    @property
    def cache_scope(self) -> str:
        """Part of every cache key: a reply is never served to a key outside its scope (it
        would tell that key what another asked, and let it ride on another's spend)."""
        return f"group:{self.cache_group}" if self.cache_group else f"key:{self.key_id}"

    @property
    def budgeted(self) -> bool:
        """Whether a request must reserve its cost before it runs."""
        return self.daily_usd is not None or self.monthly_usd is not None


def unlimited(key_id: str, owner: str) -> ApiKey:
    return ApiKey(key_id=key_id, owner=owner)


class KeyStore(Protocol):
    """Where keys live (DynamoDB in production)."""

    blocking: bool

    def find(self, digest: str) -> ApiKey | None: ...


class StaticKeys:
    """Keys from configuration (RELAY_API_KEYS): known by digest, without limits."""

    blocking = False

    def __init__(self, digests: frozenset[str]) -> None:
        self._digests = digests

    def find(self, digest: str) -> ApiKey | None:
        if digest not in self._digests:
            return None
        return unlimited(key_id_of(digest), "static")


class ChainedKeys:
    """The first store that knows the key answers."""

    def __init__(self, *stores: KeyStore) -> None:
        self._stores = stores
        self.blocking = any(store.blocking for store in stores)

    def find(self, digest: str) -> ApiKey | None:
        for store in self._stores:
            found = store.find(digest)
            if found is not None:
                return found
        return None


class KeyCache:
    """Looked-up keys by digest, bounded: at most `capacity` (least recently used go first),
    each trusted for `ttl` seconds so a revocation takes effect within it. An unknown key is
    remembered only `negative_ttl` seconds: long enough to absorb a burst of retries, short
    enough that a key issued just now works at once, and a flood of made-up keys cannot crowd
    out the real ones for long."""

    def __init__(
        self,
        capacity: int = 10_000,
        ttl: float = 10.0,
        negative_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, ApiKey | None]:
        """(True, key or None) when a fresh answer is cached; (False, None) otherwise."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False, None
            if entry[0] <= self._clock():
                del self._entries[digest]
                return False, None
            self._entries.move_to_end(digest)
            return True, entry[1]

    def put(self, digest: str, key: ApiKey | None) -> None:
        ttl = self._ttl if key is not None else self._negative_ttl
        with self._lock:
            self._entries[digest] = (self._clock() + ttl, key)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)
