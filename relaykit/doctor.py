"""`relaykit doctor`: why a deploy or a call would fail, one line per failed check with its fix.

Checks: AWS credentials and account (STS), clock skew (SigV4 refuses requests 5 minutes off),
the CDK bootstrap in every region the app deploys to, opt-in regions enabled, Bedrock model
access and inference profiles for each relay's models in its Bedrock region, Node and the CDK
CLI, the Pulumi CLI (when a Pulumi stack is configured), and each deployed relay's /health.
The exit code is the number of failed checks (at most 100).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any

import boto3
import httpx
import typer
from botocore.exceptions import ClientError

from relaykit.bedrock_access import model_access
from relaykit.deployment import ConfigPath, Context, deployment_config
from relaykit.failures import describe
from relaykit.options import Json
from relaykit.output import emit_json
from relaykit.stack_outputs import stacks_in
from stacks.aws.config import OPT_IN_REGIONS, ConfigError, RelayKitConfig

MAX_EXIT = 100
MAX_SKEW_SECONDS = 300
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# The lowest bootstrap version the CDK's default synthesizer accepts.
MIN_BOOTSTRAP_VERSION = 6
MIN_NODE_MAJOR = 22

Clients = Callable[[str, str], Any]


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # "ok", "fail" or "skip"
    detail: str
    fix: str = ""

    def line(self) -> str:
        detail = " ".join(self.detail.split())
        if self.state == "fail":
            return f"FAIL {self.name}: {detail}; fix: {self.fix}"
        return f"{self.state:4} {self.name}: {detail}"


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def identity(clients: Clients, region: str) -> Iterator[Check]:
    """Credentials and account, and the clock's skew against AWS's Date header."""
    try:
        found = clients("sts", region).get_caller_identity()
    except Exception as error:
        yield _fail("credentials", describe(error), "aws configure / AWS_PROFILE, or aws sso login")
        return
    yield _ok("credentials", f"account {found['Account']} as {found['Arn']}")
    date = found.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        yield Check("clock", "skip", "AWS sent no Date header to compare with")
        return
    skew = (datetime.now(UTC) - parsedate_to_datetime(date)).total_seconds()
    if abs(skew) > MAX_SKEW_SECONDS:
        yield _fail(
            "clock", f"{skew:+.0f} s off AWS's clock", "sync the clock (NTP): SigV4 allows 5 min"
        )
    else:
        yield _ok("clock", f"{skew:+.0f} s from AWS's clock")


def bootstrap(clients: Clients, region: str, account: str) -> Check:
    name = f"cdk bootstrap {region}"
    fix = f"npx cdk bootstrap aws://{account}/{region}"
    try:
        value = clients("ssm", region).get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return _fail(name, "not bootstrapped (no CDKToolkit version parameter)", fix)
        return _fail(name, describe(error), fix)
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return _fail(name, f"bootstrap version {value} is older than {MIN_BOOTSTRAP_VERSION}", fix)
    try:
        (toolkit,) = clients("cloudformation", region).describe_stacks(StackName="CDKToolkit")[
            "Stacks"
        ]
        stack = f", CDKToolkit {toolkit['StackStatus']}"
    except ClientError:
        stack = ", no CDKToolkit stack (custom bootstrap?)"
    return _ok(name, f"bootstrap version {value}{stack}")


def opt_in(clients: Clients, region: str) -> Check:
    name = f"region {region}"
    try:
        (found,) = clients("ec2", "us-east-1").describe_regions(
            AllRegions=True, RegionNames=[region]
        )["Regions"]
    except Exception as error:
        return _fail(
            name, f"cannot read its opt-in status: {describe(error)}", "grant ec2:DescribeRegions"
        )
    status = found.get("OptInStatus", "")
    if status in ("opted-in", "opt-in-not-required"):
        return _ok(name, status)
    return _fail(
        name, f"an opt-in region, {status}", f"aws account enable-region --region-name {region}"
    )


def bedrock(clients: Clients, config: RelayKitConfig) -> Iterator[Check]:
    for site in config.relays:
        client = clients("bedrock", site.bedrock_region)
        for target in site.targets:
            found = model_access(client, target)
            name = f"bedrock {site.bedrock_region} {target.model.alias}"
            yield (
                _ok(name, f"{found.model_id}: {found.detail}")
                if found.ok
                else _fail(name, f"{found.model_id}: {found.detail}", found.fix)
            )


def _version(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def tools(gcp: bool) -> Iterator[Check]:
    # The kit pins Node 22 in node_modules (the CDK's jsii no longer supports Node 20).
    pinned = Path("node_modules/.bin/node")
    node = str(pinned) if pinned.exists() else shutil.which("node")
    found = _version([node, "--version"]) if node else None
    major = int(m.group(1)) if found and (m := re.match(r"v(\d+)", found)) else 0
    if major >= MIN_NODE_MAJOR:
        yield _ok("node", f"{found} ({node})")
    else:
        yield _fail(
            "node",
            f"{found or 'not found'}",
            f"make bootstrap (npm ci installs Node {MIN_NODE_MAJOR})",
        )
    cdk = "node_modules/.bin/cdk" if Path("node_modules/.bin/cdk").exists() else shutil.which("cdk")
    version = _version([cdk, "--version"]) if cdk else None
    yield (
        _ok("cdk cli", f"{version} ({cdk})")
        if version
        else _fail("cdk cli", "not found", "make bootstrap (npm ci installs the pinned CDK CLI)")
    )
    if not gcp:
        yield Check("pulumi cli", "skip", "no Pulumi stack configured (Pulumi.<stack>.yaml)")
        return
    pulumi = shutil.which("pulumi")
    version = _version([pulumi, "version"]) if pulumi else None
    yield (
        _ok("pulumi cli", version or "")
        if version
        else _fail("pulumi cli", "not found", "install the Pulumi CLI (pulumi.com/docs/install)")
    )


def health(url: str, name: str) -> Check:
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=10)
    except httpx.HTTPError as error:
        return _fail(
            f"health {name}", f"{url}: {error}", "check the stack and its alarms (relaykit status)"
        )
    if response.status_code != 200:
        return _fail(
            f"health {name}",
            f"{url}/health answered {response.status_code}",
            "see the relay's logs and alarms",
        )
    return _ok(f"health {name}", f"{url}/health answered 200")


def run_checks(
    config: RelayKitConfig,
    clients: Clients,
    *,
    gcp: bool,
    tooling: bool = True,
    endpoints: tuple[str, ...] = (),
) -> list[Check]:
    primary = config.primary.region
    checks = list(identity(clients, primary))
    account = next(
        (c.detail.split()[1] for c in checks if c.name == "credentials" and c.state == "ok"), None
    )
    regions = list(dict.fromkeys([*(r.region for r in config.relays), *config.bedrock_regions]))
    if account is not None:
        checks += [opt_in(clients, r) for r in regions if r in OPT_IN_REGIONS]
        checks += [bootstrap(clients, r, account) for r in regions]
        checks += bedrock(clients, config)
        for site in config.relays:
            try:
                stacks = stacks_in(clients("cloudformation", site.region), config.settings.prefix)
            except Exception as error:
                checks.append(
                    _fail(
                        f"stacks {site.region}",
                        describe(error),
                        "grant cloudformation:DescribeStacks",
                    )
                )
                continue
            checks += [health(s.outputs["EndpointUrl"], s.name) for s in stacks if s.is_relay]
    checks += [health(url, url) for url in endpoints]
    if tooling:
        checks += tools(gcp)
    return checks


def doctor(
    config: ConfigPath = Path("cdk.json"),
    context: Context = None,
    endpoint: Annotated[
        list[str] | None, typer.Option(help="Also check this relay's /health.")
    ] = None,
    gcp: Annotated[
        bool | None,
        typer.Option(
            "--gcp/--no-gcp", help="Check the Pulumi CLI. [default: if a Pulumi stack file exists]"
        ),
    ] = None,
    json: Json = False,
) -> None:
    """Check credentials, bootstrap, regions, Bedrock access, tools, clock, relays; say the fixes.

    Exit code: the number of failed checks.
    Example: relaykit doctor -c relaykit.hongKong.enabled=true
    """
    try:
        deployment_config(config, context, deploying=True)
        deployable = _ok("config", f"{config} is ready to deploy")
    except ConfigError as error:
        deployable = _fail("config", str(error), "edit cdk.json or pass -c as the message says")
    settings = deployment_config(config, context)
    # Any service by name: boto3-stubs types `client` per literal service name only.
    client: Any = boto3.session.Session().client
    if gcp is None:
        gcp = any(p.name != "Pulumi.example.yaml" for p in Path().glob("Pulumi.*.yaml"))
    checks = [
        deployable,
        *run_checks(
            settings,
            lambda service, region: client(service, region_name=region),
            gcp=gcp,
            endpoints=tuple(endpoint or ()),
        ),
    ]
    failed = sum(1 for c in checks if c.state == "fail")
    if json:
        emit_json([dataclasses.asdict(c) for c in checks])
    else:
        for check in checks:
            print(check.line())
        print(f"{len(checks)} checks, {failed} failed")
    raise typer.Exit(min(failed, MAX_EXIT))
