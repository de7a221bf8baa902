"""A boto3 bedrock-runtime client pointed at a simulator, with dummy credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

DUMMY_REGION = "us-east-1"


def simulator_session(region: str = DUMMY_REGION) -> boto3.session.Session:
    """A session with throwaway credentials: the simulator checks no signature, and real
    credentials never reach it."""
    return boto3.session.Session(
        aws_access_key_id="simulator",
        aws_secret_access_key="simulator",  # noqa: S106 - the simulator checks no signature
        region_name=region,
    )


def simulator_client(
    endpoint_url: str,
    *,
    region: str = DUMMY_REGION,
    retries: int = 0,
    read_timeout: float = 60.0,
) -> BedrockRuntimeClient:
    """A client that signs with throwaway credentials and, by default, never retries.

    Retries are off so a test sees each simulated fault; pass `retries` to exercise botocore's
    standard retry mode against the simulator's faults.
    """
    session = simulator_session(region)
    config = Config(
        retries={"total_max_attempts": retries + 1, "mode": "standard"},
        read_timeout=read_timeout,
        connect_timeout=5,
    )
    return session.client("bedrock-runtime", endpoint_url=endpoint_url, config=config)
