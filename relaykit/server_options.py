"""uvicorn's settings for the relay off Lambda: the limits Lambda and API Gateway would provide.

Kept apart from `relaykit.serve` so the CLI can declare its flags without importing the relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServerOptions:
    """uvicorn's settings for the relay.

    keep_alive: seconds an idle keep-alive connection stays open; above the 60 s idle timeout of
        a load balancer in front (ALB's default), so the balancer closes first, never mid-request.
    limit_concurrency: connections at once before uvicorn answers 503; below the usual 1,024
        file-descriptor limit, with room for the provider connections each request opens.
    graceful_shutdown: seconds a SIGTERM waits for open requests (streams included) to finish.
    """

    keep_alive: float = 65.0
    limit_concurrency: int = 800
    graceful_shutdown: float = 120.0

    def uvicorn_config(self) -> dict[str, Any]:
        return {
            # Header limits, a request-head timeout and JSON for malformed HTTP.
            "http": "relay.http_protocol:RelayHttpProtocol",
            "timeout_keep_alive": self.keep_alive,
            "limit_concurrency": self.limit_concurrency,
            "timeout_graceful_shutdown": self.graceful_shutdown,
            "access_log": False,  # the relay logs one line per request itself
        }
