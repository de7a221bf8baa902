"""The relay container's entrypoint (Dockerfile): uvicorn with the hardened `ServerOptions`.

    python -m relaykit.container

The relay reads its settings from the environment as on Lambda (RELAY_*); the server's own
come from RELAY_HOST (127.0.0.1 unless set; the image sets 0.0.0.0), PORT (8080),
RELAY_KEEP_ALIVE, RELAY_LIMIT_CONCURRENCY and RELAY_GRACEFUL_SHUTDOWN (ServerOptions' defaults:
65 s, 800, 120 s). A bad value stops the start with a line naming the variable.

Only the relay's runtime dependencies are in the image: this module and `server_options` import
nothing of the CLI's (typer, the SDKs, moto).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from relay.settings import ConfigError, env_number
from relaykit.server_options import ServerOptions

DEFAULT_PORT = 8080


def server_options(env: Mapping[str, str]) -> ServerOptions:
    """ServerOptions with the environment's overrides of its defaults."""
    defaults = ServerOptions()
    return ServerOptions(
        keep_alive=env_number(env, "RELAY_KEEP_ALIVE", defaults.keep_alive),
        limit_concurrency=int(
            env_number(env, "RELAY_LIMIT_CONCURRENCY", defaults.limit_concurrency)
        ),
        graceful_shutdown=env_number(env, "RELAY_GRACEFUL_SHUTDOWN", defaults.graceful_shutdown),
    )


def main(env: Mapping[str, str] = os.environ) -> None:
    try:
        options = server_options(env)
        port = int(env_number(env, "PORT", DEFAULT_PORT))
    except ConfigError as error:
        print(f"relay: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        "relay.app:create_app",
        factory=True,
        host=env.get("RELAY_HOST") or "127.0.0.1",
        port=port,
        **options.uvicorn_config(),
    )


if __name__ == "__main__":
    main()
