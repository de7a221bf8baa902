"""`relaykit serve`: the relay in the foreground under uvicorn, in front of a chosen Bedrock."""

from __future__ import annotations

import uvicorn

from relay.app import create_app
from relay.catalog import Routing
from relay.keys import new_secret
from relay.settings import Settings, key_digest
from relaykit.environment import LOCAL_TABLE, environment


def serve(
    host: str, port: int, backend: str, region: str, routing: Routing, key: str | None
) -> None:
    key = key or new_secret()
    settings = Settings(
        bedrock_region=region,
        routing=routing,
        key_digests=frozenset({key_digest(key)}),
        table_name=LOCAL_TABLE,
    )
    with environment(backend, settings) as env:
        print(f"Bedrock: {env.description}")
        print(f"Relay on http://{host}:{port}; clients send this key (printed once):")
        print(f"  export ANTHROPIC_BASE_URL=http://{host}:{port}")
        print(f"  export ANTHROPIC_API_KEY={key}")
        uvicorn.run(create_app(env.settings, env.services), host=host, port=port, access_log=False)
