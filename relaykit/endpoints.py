"""Which relay a command talks to: `--endpoint URL`, `--stack NAME` (its EndpointUrl output) or
`--local` (what `relaykit local`/`serve` listen on by default). Declared once for `invoke`/`env`."""

from __future__ import annotations

from typing import Annotated

import boto3
import typer

from relaykit.failures import Failure
from relaykit.options import DEFAULT_PORT, LOOPBACK
from relaykit.stack_outputs import stack_output

LOCAL_URL = f"http://{LOOPBACK}:{DEFAULT_PORT}"

Endpoint = Annotated[str | None, typer.Option(help="The relay's URL.")]
Stack = Annotated[
    str | None, typer.Option(help="A relay stack: its EndpointUrl output is the URL.")
]
StackRegion = Annotated[
    str | None,
    typer.Option("--region", help="The stack's region. [default: AWS_REGION or your config]"),
]
Local = Annotated[bool, typer.Option("--local", help=f"The local relay at {LOCAL_URL}.")]


def resolve_endpoint(
    endpoint: str | None, stack: str | None, region: str | None, local: bool
) -> str:
    chosen = [
        name
        for name, given in (("--endpoint", endpoint), ("--stack", stack), ("--local", local))
        if given
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(
            f"give one of --endpoint, --stack, --local (not {' and '.join(chosen)})"
        )
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            raise typer.BadParameter(
                f"{endpoint!r} is not a URL like https://relay.example.com",
                param_hint="'--endpoint'",
            )
        return endpoint.rstrip("/")
    if stack:
        url = stack_output(boto3.session.Session(region_name=region), stack, "EndpointUrl")
        return url.rstrip("/")
    if local:
        return LOCAL_URL
    raise Failure(
        "which relay? give --endpoint URL, --stack NAME (see `relaykit status`) or --local"
    )
