"""Options several commands share, declared once so their help and checks agree."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from relay.catalog import MODELS, Routing
from relay.targets import NoRouteError, bedrock_target
from relaykit.failures import Failure

DEFAULT_PORT = 8787
SIMULATOR_PORT = 8788
LOOPBACK = "127.0.0.1"


class Backend(StrEnum):
    SIMULATOR = "simulator"
    BEDROCK = "bedrock"


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free one).")]
BackendOption = Annotated[
    Backend,
    typer.Option(
        help="The offline Bedrock simulator, or real Amazon Bedrock (needs AWS credentials)."
    ),
]
BedrockRegion = Annotated[str, typer.Option("--region", help="Bedrock region to call.")]
RoutingOption = Annotated[
    Routing,
    typer.Option(help="Global inference profile, geographic profile, or in-region model."),
]
FixedKey = Annotated[
    str | None,
    typer.Option(help="A fixed API key to accept, without limits. [default: issue one]"),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AwsRegion = Annotated[
    str | None,
    typer.Option("--region", help="AWS region. [default: AWS_REGION or your AWS config]"),
]
AwsEndpoint = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url", help="Another AWS endpoint, e.g. the one `relaykit local` prints."
    ),
]

# Every region some catalog model is callable from, directly or through a profile.
BEDROCK_REGIONS = frozenset(
    region
    for model in MODELS
    for region in (
        *model.bedrock_in_region,
        *(r for p in model.inference_profiles for r in p.source_regions),
    )
)


def check_bedrock_region(region: str, routing: Routing) -> None:
    """Fail naming --region / --routing when no served model is reachable that way."""
    if region not in BEDROCK_REGIONS:
        raise Failure(
            f"--region {region}: not a region Bedrock serves Claude from; use one like "
            "us-east-1, eu-west-1 or ap-northeast-1 (`relaykit models --wide` lists routes)"
        )
    for model in MODELS:
        if not model.served:
            continue
        try:
            bedrock_target(model, region, routing)
        except NoRouteError:
            continue
        return
    raise Failure(
        f"--routing {routing.value} reaches no model from --region {region}: "
        "try --routing global, or another --region"
    )
