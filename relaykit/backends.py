"""Which Bedrock the local relay talks to: the embedded simulator or the real service."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import boto3

from relay.backends.bedrock import BedrockBackend
from relay.settings import Settings
from relaykit.simulator.server import SimulatorServer

SIMULATOR_REGION = "us-east-1"


class SetupError(RuntimeError):
    """Something the user must fix before the relay can start; the message says what."""


@dataclass(frozen=True)
class Bedrock:
    """The backend for the relay and a line saying what it is."""

    backend: BedrockBackend
    description: str


def simulator_session() -> boto3.session.Session:
    # The simulator checks no signature; throwaway credentials keep real ones out of it.
    return boto3.session.Session(
        aws_access_key_id="simulator",
        aws_secret_access_key="simulator",  # noqa: S106
        region_name=SIMULATOR_REGION,
    )


@contextlib.contextmanager
def bedrock_for(kind: str, settings: Settings) -> Iterator[Bedrock]:
    """Yield the backend `kind` names ("simulator" or "bedrock") for `settings`, then clean up."""
    if kind == "simulator":
        with SimulatorServer() as simulator:
            local = dataclasses.replace(settings, bedrock_endpoint_url=simulator.endpoint_url)
            yield Bedrock(
                BedrockBackend.from_settings(local, simulator_session()),
                f"the offline Bedrock simulator at {simulator.endpoint_url} "
                "(replies are simulated)",
            )
        return
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise SetupError(
            "no AWS credentials found for --backend bedrock: configure a profile "
            "(aws configure / AWS_PROFILE) or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    yield Bedrock(
        BedrockBackend.from_settings(settings, session),
        f"Amazon Bedrock in {settings.bedrock_region} (real calls, billed to your account)",
    )
