"""`relaykit status`: what is deployed where, from CloudFormation outputs (not guesses).

Every relay stack of the deployment (stack, region, status, endpoint, Bedrock region, routing,
models), model access per model in each relay's Bedrock region, the dashboard and alarm links,
the global hostname and health checks when a stack outputs them, and the GCP (Pulumi) outputs
when the Pulumi CLI is there to read them.
"""

from __future__ import annotations

import json as jsonlib
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer

from relay.catalog import Routing, UnknownModelError, resolve
from relay.targets import NoRouteError, bedrock_target
from relaykit.bedrock_access import Access, model_access
from relaykit.deployment import ConfigPath, Context, deployment_config
from relaykit.options import Json
from relaykit.output import emit_json, table
from relaykit.stack_outputs import DeployedStack, stacks_in

GLOBAL_OUTPUTS = ("GlobalHostname", "GlobalEndpointUrl", "HealthCheck")


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )


def alarms_url(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:"


def relay_access(session: boto3.session.Session, relay: DeployedStack) -> list[Access]:
    """Model access for each model id the relay invokes (its ModelIds output)."""
    region = relay.outputs.get("BedrockRegion", relay.region)
    routing = Routing(relay.outputs.get("Routing", Routing.GLOBAL.value))
    bedrock = session.client("bedrock", region_name=region)
    found = []
    for model_id in filter(None, relay.outputs.get("ModelIds", "").split(",")):
        try:
            target = bedrock_target(resolve(model_id).model, region, routing)
        except (UnknownModelError, NoRouteError) as error:
            found.append(Access(model_id, region, False, f"not in this catalog: {error}"))
            continue
        found.append(model_access(bedrock, target))
    return found


def gcp_outputs() -> dict[str, Any] | str:
    if not Path("Pulumi.yaml").exists():
        return "no Pulumi.yaml here"
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return "the Pulumi CLI is not installed: GCP outputs not read"
    done = subprocess.run(  # noqa: S603 - fixed arguments, the CLI found on PATH
        [pulumi, "stack", "output", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return f"pulumi stack output failed: {done.stderr.strip().splitlines()[-1:]}"
    outputs: dict[str, Any] = jsonlib.loads(done.stdout)
    return outputs


def status(
    config: ConfigPath = Path("cdk.json"),
    context: Context = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Look in these regions. [default: the config's regions]"),
    ] = None,
    access: Annotated[
        bool, typer.Option("--access/--no-access", help="Check Bedrock model access per model.")
    ] = True,
    json: Json = False,
) -> None:
    """Show every deployed relay: endpoint, Bedrock region, status, model access and links.

    Example: relaykit status --region us-east-1 --region ap-east-1
    """
    settings = deployment_config(config, context)
    prefix = settings.settings.prefix
    regions = region or list(dict.fromkeys([r.region for r in settings.relays]))
    session = boto3.session.Session()
    found = [
        stack
        for r in regions
        for stack in stacks_in(session.client("cloudformation", region_name=r), prefix)
    ]
    relays = [s for s in found if s.is_relay]
    dashboards = [s for s in found if "DashboardName" in s.outputs]
    checked = {relay.name: relay_access(session, relay) if access else [] for relay in relays}
    gcp = gcp_outputs()
    if json:
        emit_json(
            {
                "relays": [
                    {
                        "stack": r.name,
                        "region": r.region,
                        "status": r.status,
                        "outputs": r.outputs,
                        "model_access": [a.__dict__ for a in checked[r.name]],
                        "alarms": alarms_url(r.region),
                    }
                    for r in relays
                ],
                "dashboards": [
                    dashboard_url(d.region, d.outputs["DashboardName"]) for d in dashboards
                ],
                "gcp": gcp,
            }
        )
        return
    if not relays:
        print(f"No {prefix}-* relay stack in {', '.join(regions)}: deploy with `cdk deploy --all`,")
        print("or look elsewhere with --region (and --config for another prefix).")
    else:
        header = ("stack", "region", "status", "endpoint", "bedrock", "routing")
        table(
            header,
            [
                (
                    r.name,
                    r.region,
                    r.status,
                    r.outputs["EndpointUrl"],
                    r.outputs.get("BedrockRegion", "-"),
                    r.outputs.get("Routing", "-"),
                )
                for r in relays
            ],
        )
    for relay in relays:
        for item in checked[relay.name]:
            mark = "ok  " if item.ok else "FAIL"
            print(f"{mark} {relay.name}: {item.model_id} in {item.region}: {item.detail}")
        print(f"alarms {relay.name}: {alarms_url(relay.region)}")
        for name, value in relay.outputs.items():
            if name.startswith(GLOBAL_OUTPUTS):
                print(f"{name}: {value}")
    for board in dashboards:
        print(f"dashboard: {dashboard_url(board.region, board.outputs['DashboardName'])}")
    if relays and not any(n.startswith(GLOBAL_OUTPUTS) for r in relays for n in r.outputs):
        print("global hostname: none configured (each relay has its own endpoint)")
    if isinstance(gcp, dict):
        for name, value in gcp.items():
            print(f"gcp {name}: {value}")
    else:
        print(f"gcp: {gcp}")
