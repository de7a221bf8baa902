"""Running the relay for tests: under uvicorn on a loopback port, in front of the simulator,
with its table in an embedded AWS when asked. A module of its own name (not conftest) so that
tests anywhere import it unambiguously."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic
from google.auth.credentials import AnonymousCredentials
from relay_wire import KEY

from relay.app import create_app
from relay.backends.vertex_access import VertexSettings
from relay.dynamo import DynamoStore
from relay.services import Services
from relay.settings import Settings, key_digest
from relay.usage import UsageRecord
from relaykit.local_aws import LocalAws
from relaykit.simulator import SimulatorConfig, SimulatorServer, simulator_session
from relaykit.table import create_table
from relaykit.threaded import ThreadedServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE = "relay-test"


@dataclass
class Relay:
    url: str
    simulator: SimulatorServer

    def client(self, **options: object) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url,
            api_key=KEY,
            max_retries=0,
            **options,  # type: ignore[arg-type]
        )

    def async_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=KEY, max_retries=0)

    def reached_backend(self) -> int:
        """How many requests the simulator has seen since the last reset."""
        total: int = self.simulator.state.stats.snapshot()["total"]
        return total


def start_relay(
    simulator: SimulatorServer,
    aws: LocalAws | None = None,
    server_options: dict[str, Any] | None = None,
    **settings: object,
) -> ThreadedServer:
    """The relay in front of the simulator: Bedrock, and Vertex AI for fallbacks that name it;
    `server_options` are uvicorn's (`relaykit serve` passes `ServerOptions().uvicorn_config()`)."""
    if aws is not None:
        settings |= {"table_name": TABLE, "dynamodb_endpoint_url": aws.endpoint_url}
    config = Settings(
        bedrock_region="us-east-1",
        key_digests=frozenset({key_digest(KEY)}),
        bedrock_endpoint_url=simulator.endpoint_url,
        **settings,  # type: ignore[arg-type]
    )
    tables = aws.session() if aws is not None else None
    vertex = VertexSettings("relay-test-project", endpoint_url=simulator.endpoint_url)
    services = Services.from_settings(
        config,
        simulator_session(),
        table_session=tables,
        vertex=vertex,
        vertex_credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    app = create_app(config, services)
    return ThreadedServer(app, name="relay", options=server_options).start()


@dataclass
class Gateway(Relay):
    """A relay with its DynamoDB table (keys, limits, usage) in an embedded AWS."""

    store: DynamoStore

    def usage_records(self, key_id: str, expected: int) -> list[UsageRecord]:
        """The key's usage records, waiting (briefly) for ones settled after a response ended."""
        deadline = time.monotonic() + 10
        while True:
            found = self.store.usage(key_id)
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def client_for(self, secret: str, **options: object) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url,
            api_key=secret,
            max_retries=0,
            **options,  # type: ignore[arg-type]
        )


@contextlib.contextmanager
def running_gateway(
    simulator_config: SimulatorConfig | None = None, **settings: object
) -> Iterator[Gateway]:
    with LocalAws() as aws, SimulatorServer(simulator_config) as simulator:
        client = aws.session().client("dynamodb", endpoint_url=aws.endpoint_url)
        create_table(client, TABLE)
        forget_breakers(client)
        server = start_relay(simulator, aws, **settings)
        try:
            yield Gateway(server.url, simulator, DynamoStore(client, TABLE))
        finally:
            server.stop()
            forget_breakers(client)


def forget_breakers(client: DynamoDBClient) -> None:
    """Breakers posted in the shared table by an earlier gateway (moto's state lives as long
    as the process, and a breaker lasts its cool-down): each gateway starts calm."""
    for item in client.scan(TableName=TABLE)["Items"]:
        if item["pk"]["S"].startswith("breaker#"):
            client.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
