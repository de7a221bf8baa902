"""`relaykit connect`: carry one cloud's deployment outputs into the other's configuration, so
an operator copies no role ARN or credential JSON by hand.

    cdk deploy --all --outputs-file cdk-outputs.json
    relaykit connect gcp-config cdk-outputs.json          # the Pulumi config: the role ARNs
    pulumi up && pulumi stack output --json > gcp-outputs.json
    relaykit connect aws-config gcp-outputs.json --write cdk.context.json
    cdk deploy --all                                      # the relays now fail over to Vertex AI
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from relaykit.failures import Failure
from relaykit.options import Json
from relaykit.output import emit_json

# The relay stacks' output naming the role GCP admits (stacks/aws/relay_stack.py).
ROLE_OUTPUT = "RelayRoleArn"
# The GCP program's outputs (stacks/gcp/__main__.py).
PROJECT_OUTPUT = "project"
REGION_OUTPUT = "region"
CREDENTIAL_OUTPUT = "federationCredentialConfig"
# The CDK context keys aws-config writes (stacks/aws/config.py reads dotted keys as overrides).
VERTEX_CONTEXT = "relaykit.vertex"
FALLBACKS_CONTEXT = "relaykit.fallbacks"

connect = typer.Typer(
    no_args_is_help=True,
    help="Connect the AWS and GCP deployments: each side's outputs as the other's config.",
)


def _read_json(path: Path, flag: str, made_by: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Failure(f"{flag} {path}: cannot read it ({error.strerror}); {made_by}") from None
    except ValueError:
        raise Failure(f"{flag} {path}: not JSON; {made_by}") from None


def role_arns(cdk_outputs: Mapping[str, Any]) -> list[str]:
    """Every relay stack's role ARN, in the file's order (`cdk deploy --outputs-file`)."""
    return [
        outputs[ROLE_OUTPUT]
        for outputs in cdk_outputs.values()
        if isinstance(outputs, Mapping) and ROLE_OUTPUT in outputs
    ]


def pulumi_commands(arns: list[str]) -> list[str]:
    """`pulumi config set` lines that give the GCP program exactly these roles."""
    return [
        f"pulumi config set --path {shlex.quote(f'federation.relayRoleArns[{i}]')} {arn}"
        for i, arn in enumerate(arns)
    ]


def vertex_context(pulumi_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The CDK `relaykit.vertex` block from `pulumi stack output --json`."""
    missing = [
        k for k in (PROJECT_OUTPUT, REGION_OUTPUT, CREDENTIAL_OUTPUT) if k not in pulumi_outputs
    ]
    if missing:
        raise Failure(
            f"the Pulumi outputs lack {', '.join(missing)}: give the whole "
            "`pulumi stack output --json` of the stacks/gcp program"
        )
    credentials = pulumi_outputs[CREDENTIAL_OUTPUT]
    if isinstance(credentials, str):
        credentials = json.loads(credentials)
    return {
        "project": pulumi_outputs[PROJECT_OUTPUT],
        "region": pulumi_outputs[REGION_OUTPUT],
        "credentials": credentials,
    }


@connect.command("gcp-config")
def gcp_config(
    cdk_outputs: Annotated[
        Path, typer.Argument(help="The file `cdk deploy --all --outputs-file` wrote.")
    ],
    json_: Json = False,
) -> None:
    """Print the Pulumi config admitting every deployed relay's role (federation.relayRoleArns).

    Example: relaykit connect gcp-config cdk-outputs.json | sh
    """
    made_by = "write it with `cdk deploy --all --outputs-file cdk-outputs.json`"
    data = _read_json(cdk_outputs, "CDK_OUTPUTS", made_by)
    arns = role_arns(data) if isinstance(data, Mapping) else []
    if not arns:
        raise Failure(
            f"CDK_OUTPUTS {cdk_outputs}: no relay stack with a {ROLE_OUTPUT} output; {made_by} "
            "from this version of the kit"
        )
    if json_:
        emit_json({"federation": {"relayRoleArns": arns}})
        return
    print("\n".join(pulumi_commands(arns)))


@connect.command("aws-config")
def aws_config(
    pulumi_outputs: Annotated[
        Path, typer.Argument(help="The file `pulumi stack output --json` wrote (stacks/gcp).")
    ],
    fallback: Annotated[
        list[str] | None,
        typer.Option(
            "--fallback",
            help="A model alias whose chain ends with Vertex AI (relaykit.fallbacks). Repeat.",
        ),
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option(
            help="Merge the blocks into this CDK context file (cdk.context.json) instead of "
            "printing them; its other keys stay."
        ),
    ] = None,
) -> None:
    """Print (or write) the CDK context that lets the relays fail over to Vertex AI.

    Example: relaykit connect aws-config gcp-outputs.json --fallback claude-haiku-4-5
    --write cdk.context.json
    """
    made_by = "write it with `pulumi stack output --json > gcp-outputs.json`"
    data = _read_json(pulumi_outputs, "PULUMI_OUTPUTS", made_by)
    if not isinstance(data, Mapping):
        raise Failure(f"PULUMI_OUTPUTS {pulumi_outputs}: not an object; {made_by}")
    context: dict[str, Any] = {VERTEX_CONTEXT: vertex_context(data)}
    if fallback:
        context[FALLBACKS_CONTEXT] = {alias: ["vertex"] for alias in fallback}
    if write is None:
        emit_json(context)
        return
    existing = _read_json(write, "--write", "give a JSON file") if write.exists() else {}
    if not isinstance(existing, dict):
        raise Failure(f"--write {write}: not a JSON object; give cdk.context.json")
    write.write_text(json.dumps({**existing, **context}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {', '.join(context)} to {write}; `cdk deploy --all` applies them")
