"""`relaykit serve`: the relay in the foreground under uvicorn, in front of a chosen Bedrock.

The caller takes the port before anything slow or printed, so the banner and the key appear only
once the relay can be reached; a taken port or an unknown host is one line naming the flag.

Off Lambda the relay is its own front door, so uvicorn runs with the limits Lambda and API Gateway
would otherwise provide (`ServerOptions`; the same flags for `uvicorn relay.app:create_app
--factory` are in the README).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from relay.app import create_app
from relay.catalog import Routing
from relay.catalog_extra import catalog_from_env
from relay.keys import new_secret
from relay.latency import parse_deadlines, parse_hedge
from relay.routers import parse_routers
from relay.settings import Settings, key_digest
from relaykit.environment import LOCAL_TABLE, Environment, environment
from relaykit.key_limits import KeyLimits
from relaykit.server_options import ServerOptions

Say = Callable[..., None]


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    backend: str
    region: str
    routing: Routing
    # A fixed key to accept without limits; None issues one (from the table when limits are set).
    key: str | None
    limits: KeyLimits | None
    # (pattern, model) pairs from `--alias PATTERN=MODEL` (relay.aliases.parse_alias_flags).
    aliases: tuple[tuple[str, str], ...] = ()
    server: ServerOptions = field(default_factory=ServerOptions)


def uvicorn_config(app: ASGIApp, server: ServerOptions) -> uvicorn.Config:
    """How uvicorn runs the relay in the foreground (one place, so its settings stay together)."""
    return uvicorn.Config(app, **server.uvicorn_config())


def table_lines(env: Environment) -> list[str]:
    """Where the local relay keeps keys and usage, and the `relaykit keys` line that reaches it."""
    where = f"--table {LOCAL_TABLE} --endpoint-url {env.table_endpoint} --region {env.table_region}"
    return [
        f"Keys:    table {LOCAL_TABLE} at {env.table_endpoint} (embedded AWS, gone on exit)",
        f"  relaykit keys list {where}",
    ]


def serve(options: ServeOptions, sock: socket.socket, say: Say = print) -> None:
    """Serve on `sock` (from `threaded.listen`, taken before anything slow), banner first."""
    fixed = None if options.limits else (options.key or new_secret())
    settings = Settings(
        bedrock_region=options.region,
        routing=options.routing,
        key_digests=frozenset({key_digest(fixed)}) if fixed else frozenset(),
        table_name=LOCAL_TABLE,
        # RELAY_CATALOG_EXTRA extends the catalog as it does the deployed relay's.
        catalog=catalog_from_env(os.environ),
        model_aliases=options.aliases,
        # Cost-aware routing as the deployed relay reads it (docs/routing.md).
        routers=parse_routers(os.environ.get("RELAY_ROUTERS", "")),
        ttfb_deadlines=parse_deadlines(os.environ.get("RELAY_TTFB_DEADLINE_MS", "")),
        hedge=parse_hedge(os.environ.get("RELAY_HEDGE", "")),
    )
    url = f"http://{options.host}:{sock.getsockname()[1]}"
    try:
        with environment(options.backend, settings) as env:
            app = create_app(env.settings, env.services)
            if options.limits:
                secret, key = env.store.create_key("serve", **options.limits.store_arguments())
                issued = f"{key.key_id} with {options.limits.describe()}"
            else:
                secret, issued = fixed or "", "without limits"
            say(f"Bedrock: {env.description}")
            for line in table_lines(env):
                say(line)
            say(f"Relay:   {url}; clients send this key ({issued}, printed once):")
            say(f"  export ANTHROPIC_BASE_URL={url}")
            say(f"  export ANTHROPIC_API_KEY={secret}", flush=True)
            uvicorn.Server(uvicorn_config(app, options.server)).run(sockets=[sock])
    finally:
        sock.close()
