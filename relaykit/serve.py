"""`relaykit serve`: the relay in the foreground under uvicorn, in front of a chosen Bedrock.

Off Lambda the relay is its own front door, so uvicorn runs with the limits Lambda and API Gateway
would otherwise provide (the same as `uvicorn relay.app:create_app --factory` with the flags in
`ServerOptions.uvicorn_flags`, documented in the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import uvicorn

from relay.app import create_app
from relay.catalog import Routing
from relay.keys import new_secret
from relay.settings import Settings, key_digest
from relaykit.environment import LOCAL_TABLE, environment


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


def serve(
    host: str,
    port: int,
    backend: str,
    region: str,
    routing: Routing,
    key: str | None,
    options: ServerOptions | None = None,
) -> None:
    key = key or new_secret()
    settings = Settings(
        bedrock_region=region,
        routing=routing,
        key_digests=frozenset({key_digest(key)}),
        table_name=LOCAL_TABLE,
    )
    config = (options or ServerOptions()).uvicorn_config()
    with environment(backend, settings) as env:
        print(f"Bedrock: {env.description}")
        print(f"Relay on http://{host}:{port}; clients send this key (printed once):")
        print(f"  export ANTHROPIC_BASE_URL=http://{host}:{port}")
        print(f"  export ANTHROPIC_API_KEY={key}")
        uvicorn.run(create_app(env.settings, env.services), host=host, port=port, **config)
