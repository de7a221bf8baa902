"""Fixtures for the Bedrock simulator tests (one server per module, reset before each test), and
an environment without AWS credentials for the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from relaykit.simulator import SimulatorServer, simulator_client

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient


@pytest.fixture(scope="module")
def simulator_server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim(simulator_server: SimulatorServer) -> SimulatorServer:
    """The module's simulator with no stats, faults or cached prompts left by earlier tests."""
    simulator_server.state.reset()
    return simulator_server


@pytest.fixture(scope="module")
def bedrock(simulator_server: SimulatorServer) -> BedrockRuntimeClient:
    return simulator_client(simulator_server.endpoint_url)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere boto3 looks: environment, files, instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
