"""`relaykit serve`: the relay in the foreground under uvicorn, in front of a chosen Bedrock."""

from __future__ import annotations

import uvicorn

from relay.app import create_app
from relay.catalog import Routing
from relay.settings import Settings, key_digest
from relaykit.backends import bedrock_for


def serve(
    host: str, port: int, backend: str, region: str, routing: Routing, key: str | None
) -> None:
    from relaykit.cli import new_key

    key = key or new_key()
    settings = Settings(
        bedrock_region=region, routing=routing, key_digests=frozenset({key_digest(key)})
    )
    with bedrock_for(backend, settings) as bedrock:
        print(f"Bedrock: {bedrock.description}")
        print(f"Relay on http://{host}:{port}; clients send this key (printed once):")
        print(f"  export ANTHROPIC_BASE_URL=http://{host}:{port}")
        print(f"  export ANTHROPIC_API_KEY={key}")
        uvicorn.run(create_app(settings, bedrock.backend), host=host, port=port, access_log=False)
