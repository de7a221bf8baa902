"""Running the GCP program under Pulumi mocks and recording what it declares. A module of its
own name (not conftest) so that tests import it unambiguously next to other test folders."""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime import settings

from relay.catalog import DEFAULT_MODEL
from stacks.gcp.config import NAMESPACE

PROGRAM = Path(__file__).resolve().parents[3] / "stacks" / "gcp" / "__main__.py"
PROJECT_ID = "acme-claude-dev"
PROJECT_NUMBER = "123456789012"
RELAY_ACCOUNT = "210987654321"
RELAY_ROLE_ARN = f"arn:aws:iam::{RELAY_ACCOUNT}:role/service/claude-relay-fn-role"


def base_config() -> dict[str, Any]:
    """A complete, valid stack config (plain data, as `pulumi config` would hold it)."""
    return {
        "regions": list(DEFAULT_MODEL.vertex_regions[:1]) or ["global"],
        "models": [DEFAULT_MODEL.alias],
        "quota": {
            "requestsPerMinute": 30,
            "inputTokensPerMinute": 100_000,
            "outputTokensPerMinute": 10_000,
        },
        "budget": {
            "billingAccount": "01ABCD-23EF45-6789AB",
            "amount": 500,
            "thresholdsPercent": [50, 90, 100, 120],
        },
        "alertEmails": ["oncall@example.com", "finance@example.com"],
        "federation": {"relayRoleArn": RELAY_ROLE_ARN},
    }


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass
class Deployment:
    resources: list[Recorded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Recorded:
        (found,) = [r for r in self.resources if r.name == name]
        return found


def _computed(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    """What GCP would fill in for the outputs the program reads."""
    i = args.inputs
    if args.typ == "gcp:serviceaccount/account:Account":
        email = f"{i['accountId']}@{PROJECT_ID}.iam.gserviceaccount.com"
        return {
            "email": email,
            "name": f"projects/{PROJECT_ID}/serviceAccounts/{email}",
            "member": f"serviceAccount:{email}",
        }
    if args.typ == "gcp:projects/iAMCustomRole:IAMCustomRole":
        return {"name": f"projects/{PROJECT_ID}/roles/{i['roleId']}"}
    pools = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools"
    if args.typ == "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
        return {"name": f"{pools}/{i['workloadIdentityPoolId']}"}
    if args.typ == "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
        return {
            "name": f"{pools}/{i['workloadIdentityPoolId']}"
            f"/providers/{i['workloadIdentityPoolProviderId']}"
        }
    if args.typ == "gcp:monitoring/notificationChannel:NotificationChannel":
        return {"name": f"projects/{PROJECT_ID}/notificationChannels/{args.name}"}
    if args.typ == "gcp:billing/budget:Budget":
        return {"name": f"billingAccounts/{i['billingAccount']}/budgets/{args.name}"}
    if args.typ == "gcp:serviceaccount/key:Key":
        return {"privateKey": "ZmFrZS1rZXk="}
    return {}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.deployment.resources.append(Recorded(args.typ, args.name, dict(args.inputs)))
        resource_id = (
            f"projects/{PROJECT_NUMBER}/dashboards/{args.name}-id"
            if args.typ == "gcp:monitoring/dashboard:Dashboard"
            else f"{args.name}-id"
        )
        return resource_id, {**args.inputs, **_computed(args)}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"number": PROJECT_NUMBER, "projectId": PROJECT_ID}, []
        raise NotImplementedError(args.token)


def run_program(config: Mapping[str, Any], project: str = PROJECT_ID) -> Deployment:
    """Execute the Pulumi program with mocks and `config`; return what it declared."""
    deployment = Deployment()
    # Pulumi's mocks (and the root stack) run on the thread's event loop; other suites
    # (pytest-asyncio) may have closed or unset it, so each build gets a loop of its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings.reset_options()  # a fresh root stack, so outputs of an earlier run do not leak
    pulumi.runtime.set_mocks(RecordingMocks(deployment), project=NAMESPACE, preview=False)
    pulumi.runtime.set_all_config(
        {"gcp:project": project}
        # As `pulumi config` stores them: strings as is, structured values as JSON.
        | {
            f"{NAMESPACE}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        }
    )

    async def collect(exported: dict[str, Any]) -> None:
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            deployment.outputs[name] = await output.future()
            if await output.is_secret():
                deployment.secret_outputs.add(name)

    def run() -> Any:
        runpy.run_path(str(PROGRAM), run_name="__main__")
        stack = settings.get_root_resource()
        return collect(stack.outputs)  # type: ignore[union-attr]  # the root is a Stack

    program: Callable[[], None] = pulumi.runtime.test(run)  # type: ignore[no-untyped-call]

    try:
        program()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return deployment
