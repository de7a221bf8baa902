"""The deployment a command looks at: the typed config of cdk.json (prefix, relay and Bedrock
regions, models), the same `load_config` the CDK app runs, with `-c`-style overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from relaykit.failures import Failure
from stacks.aws.config import RelayKitConfig, load_config

ConfigPath = Annotated[
    Path, typer.Option("--config", help="The CDK app's cdk.json (its relaykit context).")
]
Context = Annotated[
    list[str] | None,
    typer.Option(
        "-c",
        "--context",
        metavar="KEY=VALUE",
        help="Override, as cdk -c (relaykit.hongKong.enabled=true).",
    ),
]


# Who hears of alarms matters to a deploy, not to reading what is deployed or why it fails.
_READ_ONLY = {"relaykit.alarms.acknowledgeNoRecipients": "true"}


def deployment_config(
    path: Path, overrides: list[str] | None = None, *, deploying: bool = False
) -> RelayKitConfig:
    """The config of `path` with `overrides`; `deploying` also applies the checks that only a
    deploy needs (alarm recipients), as `cdk synth` does."""
    try:
        context = dict(json.loads(path.read_text()).get("context", {}))
    except FileNotFoundError:
        raise Failure(
            f"--config {path}: no such file; run in the kit's folder or pass --config"
        ) from None
    except json.JSONDecodeError as error:
        raise Failure(f"--config {path}: not JSON ({error})") from None
    if not deploying:
        context.update(_READ_ONLY)
    for override in overrides or ():
        name, equals, value = override.partition("=")
        if not equals:
            raise typer.BadParameter(f"{override!r} is not KEY=VALUE", param_hint="'--context'")
        context[name] = value
    return load_config(context)
