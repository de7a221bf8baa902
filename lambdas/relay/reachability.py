"""Whether the relay can reach its Bedrock region, for `GET /health`.

Route 53 health checks call `/health` every 30 s from about fifteen checkers per region, so the
answer must be cheap and must never spend a key's budget: the probe is one unauthenticated
HTTPS request to the bedrock-runtime endpoint (no signature, no model call), and its result is
kept for `ttl_seconds` per relay instance. Any HTTP answer below 500 (AWS answers an unsigned
request with 403) shows the endpoint up; a 5xx, a timeout or a refused connection shows it down.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

# Route 53 waits 2 s for an answer once connected, so the probe must end well before.
PROBE_TIMEOUT_SECONDS = 1.5
# Each warm instance probes at most this often; a Bedrock outage shows within this (plus Route
# 53's own failure threshold of 3 checks at 30 s).
CACHE_SECONDS = 20.0

# None: reachable; else why not (an exception class or a status, never a response body).
Probe = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class Reachability:
    """The last probe's finding."""

    reachable: bool
    reason: str | None
    checked_at: float


class ReachabilityCache:
    """Runs `probe` at most once per `ttl_seconds`; concurrent callers share one probe."""

    def __init__(
        self,
        probe: Probe,
        ttl_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._ttl = ttl_seconds
        self._clock = clock
        self._last: Reachability | None = None
        self._lock: anyio.Lock | None = None

    def _fresh(self) -> Reachability | None:
        last = self._last
        if last is not None and self._clock() - last.checked_at < self._ttl:
            return last
        return None

    async def current(self) -> Reachability:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        # Created on first use: an anyio.Lock belongs to the running event loop.
        self._lock = self._lock or anyio.Lock()
        async with self._lock:
            fresh = self._fresh()
            if fresh is None:
                reason = await self._probe()
                fresh = Reachability(reason is None, reason, self._clock())
                self._last = fresh
            return fresh


def runtime_endpoint(region: str, endpoint_url: str | None) -> str:
    """The bedrock-runtime endpoint of `region`, or the configured one (the simulator)."""
    return endpoint_url or f"https://bedrock-runtime.{region}.amazonaws.com"


def http_probe(endpoint: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> Probe:
    """A probe sending one unsigned `GET /` to `endpoint`."""

    async def probe() -> str | None:
        import httpx  # the Bedrock backend's client library; only once a probe runs

        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(endpoint.rstrip("/") + "/")
        except httpx.HTTPError as error:
            return type(error).__name__
        if response.status_code >= 500:
            return f"HTTP {response.status_code}"
        return None

    return probe


def health_report(region: str, found: Reachability | None) -> tuple[int, dict[str, Any]]:
    """The status and body of `/health`: 503 when the Bedrock region is out of reach."""
    if found is None:
        return 200, {"status": "ok"}
    bedrock: dict[str, Any] = {"region": region, "reachable": found.reachable}
    if found.reachable:
        return 200, {"status": "ok", "bedrock": bedrock}
    return 503, {"status": "unhealthy", "bedrock": {**bedrock, "reason": found.reason}}
