"""The deploy rehearsal: the real CDK CLI deploys this app into moto on localhost, offline.

    relaykit deploy-rehearsal [--destroy] [--keep-serving]

Each step is the command a real deployment runs, against an embedded AWS (moto's server) instead
of an account: `cdk synth`, `cdk bootstrap` of every environment the app targets, `cdk deploy
--all --require-approval never --method=direct`, the stacks' outputs read back through the
CloudFormation API, and optionally `cdk destroy --all --force`. The CLI reaches moto through
`AWS_ENDPOINT_URL` (the AWS SDK for JavaScript honours it for every service; the CDK CLI forces
path-style S3 for a loopback endpoint and points CloudFormation at it for templates and assets).

What differs from a deployment to AWS, and why each difference is honest:

- The host is `localhost`, not 127.0.0.1: moto reads a template from its own S3 only when the
  template URL names localhost.
- `--method=direct` (CreateStack/UpdateStack): moto's change sets apply resources out of order.
- `-c relaykit.bootstrapVersionRule=false`: with the bootstrap-version rule, templates take the
  SSM-typed `BootstrapVersion` parameter, whose value moto does not keep, so the CLI's update
  (`UsePreviousValue`) fails (KeyError in `_resolve_update_parameters`). The setting drops only
  that parameter and rule: `cdk bootstrap` still creates the bootstrap stack, and the CLI still
  checks its version in SSM before deploying.
- Patches of moto 5.2, applied only in the moto server process the rehearsal starts (never in
  the app, its templates or the caller's process), each a wrapper of the moto function at fault
  and documented there: KMS keys get CloudFormation's `Key`/`Value` tags translated to the KMS
  API's `TagKey`/`TagValue` (KeyError 'TagKey'); reads of resource types moto does not create
  (API Gateway stages and keys, WAF, Bedrock guardrails and profiles...) return a
  `not-created-by-moto-...` placeholder where moto would crash (`validate_outputs`) or refuse;
  a function's `Layers` are ignored on update as moto already ignores them on create.
- Custom resources: moto hands their event to the function, which it could only run in Docker;
  the rehearsal receives the event instead and answers SUCCESS at moto's response URL, as the
  function's cfn-response would. What the handlers do is tested in tests/lambdas, not here.
- The Hong Kong relay with the guardrail on cannot be rehearsed (`CROSS_REGION_LIMIT`).
- With `relaykit.domain`, the hosted zone is created in moto and its id used instead of the
  configured one (relaykit/rehearsal_domain.py). moto keeps the records and health checks but
  creates neither the certificate nor the API Gateway custom domain (placeholders), and does not
  keep a health check's EnableSNI.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3

from relaykit.rehearsal_aws import PLACEHOLDER
from relaykit.rehearsal_domain import with_rehearsal_zone
from relaykit.threaded import Running

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
BOOTSTRAP_HINT = "run scripts/bootstrap.sh (npm ci installs the pinned Node 22 and CDK CLI)"
REGION = "us-east-1"
REHEARSAL_CONTEXT = {"relaykit.bootstrapVersionRule": "false"}
# Context a rehearsal supplies unless given: synthesis requires an alarm recipient.
REHEARSAL_DEFAULTS = {"relaykit.alarms.emails": '["rehearsal@example.com"]'}
_START_TIMEOUT = 30.0
# moto creates a stack's resources in one pass, before any custom resource answers, so what
# reads CDK's cross-region export reader (the Hong Kong relay's guardrail grant) gets nothing.
CROSS_REGION_LIMIT = (
    "moto cannot deploy cross-region references (the Hong Kong relay): rehearse without "
    "relaykit.hongKong.enabled"
)

# print-like: takes end= and flush= too.
Say = Callable[..., None]


class RehearsalError(RuntimeError):
    """A rehearsal step failed; the message says which, and where its log is."""


@dataclass(frozen=True)
class DeployedStack:
    """A stack as moto's CloudFormation describes it after a deploy."""

    name: str
    region: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)


class DeployRehearsal(Running):
    """The rehearsal's AWS in its own process, and the CDK CLI pointed at it.

    `deploy()` synthesises the app, bootstraps the environments not bootstrapped yet and deploys
    every stack; call it again with other context for an update. `destroy()` destroys them.
    The work directory (assemblies, CLI logs) is removed at the end unless a step failed.
    """

    def __init__(
        self,
        *,
        context: Mapping[str, str] | None = None,
        say: Say = print,
        verbose: bool = False,
        step_timeout: float = 900.0,
        app_dir: Path = REPO_ROOT,
    ) -> None:
        self._context = dict(context or {})
        # A stack moto leaves in progress would make the CLI wait for ever.
        self._step_timeout = step_timeout
        self._say = say
        self._verbose = verbose
        self._app_dir = app_dir
        self._server: _AwsProcess | None = None
        self._bootstrapped: set[str] = set()
        self._assembly: Path | None = None
        self._steps = 0
        self._workdir: Path | None = None

    @property
    def workdir(self) -> Path:
        """Where the assemblies, the CLI logs and moto's log go (a fresh temporary directory)."""
        if self._workdir is None:
            raise RehearsalError("the rehearsal has not started")
        return self._workdir

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RehearsalError("the rehearsal's AWS is not running")
        return self._server.endpoint_url

    @property
    def assembly(self) -> Path | None:
        """The cloud assembly (`cdk synth` output) deployed last."""
        return self._assembly

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for `service` in the rehearsal's AWS."""
        session = _session(region)
        return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def start(self) -> Self:
        _check_cli(self._app_dir)
        self._workdir = Path(tempfile.mkdtemp(prefix="relaykit-rehearsal-"))
        self._server = _AwsProcess(self.workdir / "aws.log").start()
        self._say(f"AWS (moto) for the rehearsal: {self.endpoint_url}")
        return self

    def stop(self, *, keep_workdir: bool = False) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._workdir is not None and not keep_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A failed step keeps its work directory: the error names the log in it.
        self.stop(keep_workdir=isinstance(exc, RehearsalError))

    def deploy(self, context: Mapping[str, str] | None = None) -> dict[str, DeployedStack]:
        """Synthesise with `context` (over the rehearsal's), bootstrap, deploy every stack."""
        assembly = self.workdir / f"cdk.out.{self._steps + 1}"
        overrides = with_rehearsal_zone(
            {**REHEARSAL_DEFAULTS, **self._context, **(context or {}), **REHEARSAL_CONTEXT},
            self.client("route53"),
        )
        flags = [arg for key, value in overrides.items() for arg in ("-c", f"{key}={value}")]
        self._cdk("synth", "--quiet", "--output", str(assembly), *flags)
        stacks = _stacks_of(assembly)
        environments = sorted(set(stacks.values()) - self._bootstrapped)
        if environments:
            self._cdk("bootstrap", "--app", str(assembly), *environments)
            self._bootstrapped.update(environments)
        try:
            self._cdk(
                "deploy",
                "--app",
                str(assembly),
                "--all",
                "--require-approval",
                "never",
                "--method=direct",
                "--progress",
                "events",
            )
        except RehearsalError as error:
            if _reads_across_regions(assembly):
                raise RehearsalError(f"{error}; {CROSS_REGION_LIMIT}") from None
            raise
        self._assembly = assembly
        return self.describe()

    def destroy(self) -> None:
        """`cdk destroy --all --force` of the last deployed assembly."""
        if self._assembly is None:
            raise RehearsalError("nothing to destroy: deploy first")
        self._cdk("destroy", "--app", str(self._assembly), "--all", "--force")

    def describe(self) -> dict[str, DeployedStack]:
        """The last deployed assembly's stacks that moto's CloudFormation has, by name."""
        if self._assembly is None:
            return {}
        found = {}
        for name, environment in _stacks_of(self._assembly).items():
            region = environment.rsplit("/", 1)[-1]
            cfn = self.client("cloudformation", region)
            try:
                described = cfn.describe_stacks(StackName=name)["Stacks"][0]
            except cfn.exceptions.ClientError:  # destroyed
                continue
            outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
            found[name] = DeployedStack(name, region, described["StackStatus"], outputs)
        return found

    def _cdk(self, command: str, *args: str) -> None:
        self._steps += 1
        log = self.workdir / f"{self._steps:02d}-cdk-{command}.log"
        self._say(f"$ cdk {command} {' '.join(_shown(args))}", flush=True)
        started = time.monotonic()
        with log.open("w") as out:
            process = subprocess.Popen(  # noqa: S603 - the pinned CLI, arguments built here
                [str(NODE_BIN / "cdk"), command, *args, "--no-notices"],
                cwd=self._app_dir,
                env=_cli_env(self.endpoint_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                # Its own process group, so ending it also ends the app it synthesises with.
                start_new_session=True,
            )
            assert process.stdout is not None
            deadline = threading.Timer(self._step_timeout, os.killpg, (process.pid, signal.SIGKILL))
            deadline.start()
            try:
                for line in process.stdout:
                    out.write(line)
                    if self._verbose:
                        self._say(f"  {line.rstrip()}")
                code = process.wait()
            finally:
                deadline.cancel()
                if process.poll() is None:  # interrupted (Ctrl-C): end the CLI too
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        elapsed = time.monotonic() - started
        if code != 0 and elapsed >= self._step_timeout:
            raise RehearsalError(
                f"cdk {command} did not finish within {self._step_timeout:.0f}s (log: {log})"
            )
        if code != 0:
            raise RehearsalError(
                f"cdk {command} failed (exit {code}): {_last_error(log)} (log: {log})"
            )
        self._say(f"  done in {elapsed:.0f}s")


@dataclass(frozen=True)
class RehearsalOptions:
    destroy: bool = False
    keep_serving: bool = False
    verbose: bool = False
    # Extra key=value context for the synthesis, as `cdk -c` takes it.
    context: tuple[str, ...] = ()


@contextlib.contextmanager
def rehearsed(options: RehearsalOptions, say: Say = print) -> Iterator[DeployRehearsal]:
    """Deploy (and with `destroy`, destroy) in the rehearsal's AWS; yield it still serving."""
    context = dict(_parse_context(c) for c in options.context)
    started = time.monotonic()
    with DeployRehearsal(context=context, say=say, verbose=options.verbose) as rehearsal:
        stacks = rehearsal.deploy()
        for stack in stacks.values():
            say(f"{stack.name} ({stack.region}): {stack.status}")
            for key, value in sorted(stack.outputs.items()):
                if not key.startswith("ExportsOutput"):  # CDK's own cross-stack exports
                    say(f"  {key} = {value}")
        say(f"({PLACEHOLDER.format(logical_id='...')}: a resource type moto does not create)")
        if options.destroy:
            rehearsal.destroy()
            left = rehearsal.describe()
            say(f"Stacks left after destroy: {', '.join(left) or 'none'}")
        say(f"Rehearsal done in {time.monotonic() - started:.0f}s.")
        yield rehearsal


def rehearse(options: RehearsalOptions, say: Say = print) -> None:
    """`relaykit deploy-rehearsal`: deploy, show the stacks, optionally destroy and keep serving."""
    with rehearsed(options, say) as rehearsal:
        if options.keep_serving:
            say("\nThe rehearsal's AWS serves until Ctrl-C; look around with the AWS CLI:")
            say(f"  export AWS_ENDPOINT_URL={rehearsal.endpoint_url}")
            say("  export AWS_ACCESS_KEY_ID=rehearsal AWS_SECRET_ACCESS_KEY=rehearsal")
            say(f"  aws cloudformation describe-stacks --region {REGION}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                say("\nStopped.")


def _parse_context(pair: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise RehearsalError(f"context '{pair}' is not key=value")
    return key, value


def _session(region: str) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="rehearsal",
        aws_secret_access_key="rehearsal",  # noqa: S106 - moto checks no signature
        region_name=region,
    )


def _check_cli(app_dir: Path) -> None:
    if not (app_dir / "cdk.json").exists():
        raise RehearsalError(f"no cdk.json in {app_dir}: run the rehearsal from a checkout")
    if not (NODE_BIN / "cdk").exists() or not (NODE_BIN / "node").exists():
        raise RehearsalError(f"the CDK CLI is missing from {NODE_BIN}: {BOOTSTRAP_HINT}")


def _cli_env(endpoint_url: str) -> dict[str, str]:
    """The caller's environment without any AWS or CDK setting, pointed at the rehearsal's AWS:
    no profile, credential file or metadata service can lead the CLI to a real account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="rehearsal",
        AWS_SECRET_ACCESS_KEY="rehearsal",  # noqa: S106 - moto checks no signature
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        CDK_DISABLE_VERSION_CHECK="1",
        CI="true",
    )
    return env


def _stacks_of(assembly: Path) -> dict[str, str]:
    """Stack name to environment (aws://account/region) in a cloud assembly."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def _reads_across_regions(assembly: Path) -> bool:
    return any(
        resource["Type"] == "Custom::CrossRegionExportReader"
        for template in assembly.glob("*.template.json")
        for resource in json.loads(template.read_text()).get("Resources", {}).values()
    )


def _shown(args: Sequence[str]) -> list[str]:
    return [Path(a).name if os.path.isabs(a) else a for a in args]


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line or line.startswith("❌")]
    return (errors or lines or ["no output"])[-1]


class _AwsProcess:
    """moto's server, patched for the rehearsal, in a child process on localhost.

    A process of its own keeps the patches and moto's global state out of the caller (tests run
    moto in-process too), and a session of its own keeps a Ctrl-C at the terminal from it: it
    stops when its standard input closes, which also happens if the caller dies.
    """

    def __init__(self, log: Path) -> None:
        self._log = log
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> Self:
        with self._log.open("w") as err:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "relaykit.rehearsal_aws"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        self.endpoint_url = _first_line(self._process, _START_TIMEOUT)
        if not self.endpoint_url.startswith("http://"):
            self.stop()
            raise RehearsalError(f"the rehearsal's AWS did not start; see {self._log}")
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""
