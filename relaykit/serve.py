"""`relaykit serve`: the relay in the foreground under uvicorn, in front of a chosen Bedrock."""

from __future__ import annotations

import os
from collections.abc import Sequence

import uvicorn

from relay.aliases import parse_alias_flags
from relay.app import create_app
from relay.catalog import Routing
from relay.catalog_extra import catalog_from_env
from relay.keys import new_secret
from relay.settings import Settings, key_digest
from relaykit.environment import LOCAL_TABLE, environment


def serve(
    host: str,
    port: int,
    backend: str,
    region: str,
    routing: Routing,
    key: str | None,
    aliases: Sequence[str] = (),
) -> None:
    """`aliases` are `PATTERN=MODEL` flags (see relay.aliases); RELAY_CATALOG_EXTRA extends the
    catalog as it does the deployed relay's."""
    key = key or new_secret()
    settings = Settings(
        bedrock_region=region,
        routing=routing,
        key_digests=frozenset({key_digest(key)}),
        table_name=LOCAL_TABLE,
        catalog=catalog_from_env(os.environ),
        model_aliases=parse_alias_flags(list(aliases)),
    )
    with environment(backend, settings) as env:
        print(f"Bedrock: {env.description}")
        print(f"Relay on http://{host}:{port}; clients send this key (printed once):")
        print(f"  export ANTHROPIC_BASE_URL=http://{host}:{port}")
        print(f"  export ANTHROPIC_API_KEY={key}")
        uvicorn.run(create_app(env.settings, env.services), host=host, port=port, access_log=False)
