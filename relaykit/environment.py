"""What the local relay runs against: the offline Bedrock simulator or real Bedrock, and, for
its keys, limits and usage records, the relay's DynamoDB table in an embedded AWS (moto)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3

from relay.dynamo import DynamoStore
from relay.services import Services
from relay.settings import Settings
from relaykit.local_aws import LocalAws
from relaykit.simulator.client import simulator_session
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.models import ModelResolver
from relaykit.simulator.server import SimulatorServer
from relaykit.table import create_table

LOCAL_TABLE = "claude-relay-local"
# Message Batches against the simulator: their bucket in the embedded AWS, and a role the
# simulator takes at its word (it checks none).
LOCAL_BATCH_BUCKET = "claude-relay-local-batches"
LOCAL_BATCH_ROLE = "arn:aws:iam::123456789012:role/claude-relay-local-batches"


class SetupError(RuntimeError):
    """Something the user must fix before the relay can start; the message says what."""


@dataclass(frozen=True)
class Environment:
    settings: Settings
    services: Services
    # The relay's table, for issuing keys and reading usage.
    store: DynamoStore
    description: str
    # Where the table is, for `relaykit keys ... --endpoint-url`.
    table_endpoint: str
    table_region: str


def _bedrock_session() -> boto3.session.Session:
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise SetupError(
            "no AWS credentials found for --backend bedrock: configure a profile "
            "(aws configure / AWS_PROFILE) or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return session


@contextlib.contextmanager
def environment(
    kind: str, settings: Settings, step: Callable[[str], None] = lambda _: None
) -> Iterator[Environment]:
    """Yield everything `kind` ("simulator" or "bedrock") needs for `settings`, then clean up.

    `step` hears what is being started, for a progress line per step.
    """
    session = _bedrock_session() if kind == "bedrock" else simulator_session()
    with contextlib.ExitStack() as stack:
        step("starting the embedded AWS (moto) for the relay's table")
        aws = stack.enter_context(LocalAws())
        tables = aws.session()
        client = tables.client("dynamodb", endpoint_url=aws.endpoint_url)
        step(f"creating the table {LOCAL_TABLE}")
        create_table(client, LOCAL_TABLE)
        settings = dataclasses.replace(
            settings, table_name=LOCAL_TABLE, dynamodb_endpoint_url=aws.endpoint_url
        )
        if kind == "simulator":
            step("starting the Bedrock simulator")
            # Its batch jobs read and write the batches' bucket in the embedded AWS.
            tables.client("s3", endpoint_url=aws.endpoint_url).create_bucket(
                Bucket=LOCAL_BATCH_BUCKET
            )
            config = SimulatorConfig(s3_endpoint_url=aws.endpoint_url)
            simulator = stack.enter_context(SimulatorServer(config))
            # The simulator stands in for Bedrock, which knows the operator's added models too.
            simulator.state.models = ModelResolver(settings.catalog.models)
            settings = dataclasses.replace(
                settings,
                bedrock_endpoint_url=simulator.endpoint_url,
                batch_bucket=LOCAL_BATCH_BUCKET,
                batch_role_arn=LOCAL_BATCH_ROLE,
                batch_s3_endpoint_url=aws.endpoint_url,
            )
            description = (
                f"the offline Bedrock simulator at {simulator.endpoint_url} (replies are simulated)"
            )
        else:
            description = (
                f"Amazon Bedrock in {settings.bedrock_region} (real calls, billed to your account)"
            )
        yield Environment(
            settings,
            Services.from_settings(settings, session, table_session=tables),
            DynamoStore(client, LOCAL_TABLE),
            description,
            aws.endpoint_url,
            tables.region_name,
        )
