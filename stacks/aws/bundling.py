"""Packaging the relay for Lambda without Docker.

The asset is the `relay` package plus its runtime dependencies (the `[project] dependencies` of
pyproject.toml, pinned to the versions in uv.lock), installed by pip as manylinux wheels for the
Lambda runtime's Python version and architecture, plus the `run.sh` the AWS Lambda Web Adapter
starts. Docker is used only if local bundling is impossible (no pip) and Docker is present.

The asset hash covers the relay sources, the pinned requirements and the target platform, so an
unchanged relay is not bundled again into the same cdk.out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from packaging.markers import Marker

from stacks.aws.config import Architecture

REPO_ROOT = Path(__file__).resolve().parents[2]
RELAY_SOURCE = REPO_ROOT / "lambdas" / "relay"
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
PORT = 8080
# Started by the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) as the handler.
RUN_SH = f"""#!/bin/sh
# Started by the AWS Lambda Web Adapter; the adapter forwards requests to this server.
export PYTHONPATH="/var/task:$PYTHONPATH"
exec python -m uvicorn relay.app:create_app --factory \\
    --host 127.0.0.1 --port "${{PORT:-{PORT}}}" --no-access-log
"""
# The botocore service models the relay may use; the others are dropped from the asset.
BOTOCORE_SERVICES = frozenset(
    {"bedrock-runtime", "bedrock", "dynamodb", "sts", "sso", "sso-oidc", "cloudwatch", "logs"}
)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


@dataclass(frozen=True)
class Platform:
    """The pip platform tags and marker environment of a Lambda architecture."""

    architecture: Architecture

    @property
    def machine(self) -> str:
        return "aarch64" if self.architecture is Architecture.ARM_64 else "x86_64"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        return (f"manylinux2014_{self.machine}", f"manylinux_2_28_{self.machine}")

    @property
    def docker_platform(self) -> str:
        return "linux/arm64" if self.architecture is Architecture.ARM_64 else "linux/amd64"

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": PYTHON_VERSION,
            "python_full_version": PYTHON_VERSION + ".0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": self.machine,
            "os_name": "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "extra": "",
        }


@cache
def _lock() -> dict[str, Any]:
    with (REPO_ROOT / "uv.lock").open("rb") as f:
        return tomllib.load(f)


@cache
def runtime_requirements() -> tuple[str, ...]:
    """The `[project] dependencies` of pyproject.toml: what ships in the Lambda."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    return tuple(project["dependencies"])


def pinned_requirements(platform: Platform) -> tuple[str, ...]:
    """`name==version` for the runtime dependency closure in uv.lock, markers evaluated."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as f:
        project_name = tomllib.load(f)["project"]["name"]
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in _lock()["package"]:
        packages.setdefault(package["name"], []).append(package)
    environment = platform.marker_environment()
    root = packages[project_name][0]
    pins: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [
        (d["name"], tuple(d.get("extra", ())))
        for d in root.get("dependencies", ())
        if _applies(d, environment)
    ]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = _choose(packages[name], environment)
        pins[name] = package["version"]
        dependencies = list(package.get("dependencies", ()))
        for extra in extras:
            dependencies += package.get("optional-dependencies", {}).get(extra, ())
        pending += [
            (d["name"], tuple(d.get("extra", ()))) for d in dependencies if _applies(d, environment)
        ]
    return tuple(f"{name}=={version}" for name, version in sorted(pins.items()))


def _applies(dependency: dict[str, Any], environment: dict[str, str]) -> bool:
    marker = dependency.get("marker")
    return marker is None or Marker(marker).evaluate(environment)


def _choose(candidates: list[dict[str, Any]], environment: dict[str, str]) -> dict[str, Any]:
    # uv forks a package into several versions only under markers; take the one that applies.
    for package in candidates:
        markers = package.get("resolution-markers")
        if not markers or any(Marker(m).evaluate(environment) for m in markers):
            return package
    return candidates[0]


def asset_hash(platform: Platform) -> str:
    digest = hashlib.sha256()
    for path in sorted(RELAY_SOURCE.rglob("*.py")):
        digest.update(path.relative_to(RELAY_SOURCE).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update("\n".join(pinned_requirements(platform)).encode())
    digest.update(f"{RUNTIME.name}/{platform.machine}/{RUN_SH}".encode())
    return digest.hexdigest()


def installer() -> list[str] | None:
    """A pip that can install for another platform: this interpreter's, one on PATH, or uv's."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    uv = shutil.which("uv")
    return [uv, "pip"] if uv else None


def pip_arguments(platform: Platform, target: str, *, uv: bool = False) -> list[str]:
    """Install exactly the locked closure (`--no-deps`) as wheels for the Lambda platform."""
    arguments = ["install", "--quiet", "--no-deps", "--target", target]
    arguments += ["--python-version", PYTHON_VERSION, "--only-binary", ":all:"]
    if uv:
        arguments += ["--python-platform", f"{platform.machine}-manylinux_2_28"]
    else:
        arguments += ["--disable-pip-version-check", "--no-compile", "--implementation", "cp"]
        for tag in platform.pip_platforms:
            arguments += ["--platform", tag]
    return [*arguments, *pinned_requirements(platform)]


def write_bundle(output_dir: Path, platform: Platform) -> None:
    """Install the pinned wheels for `platform`, then the relay sources and run.sh."""
    command = installer()
    if command is None:
        raise OSError("no pip or uv found to install the relay's dependencies")
    uv = command[-1] == "pip" and Path(command[0]).name == "uv"
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [*command, *pip_arguments(platform, str(output_dir), uv=uv)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, command)
    shutil.copytree(RELAY_SOURCE, output_dir / "relay", ignore=_IGNORED, dirs_exist_ok=True)
    _prune(output_dir)
    run = output_dir / "run.sh"
    run.write_text(RUN_SH)
    run.chmod(0o755)


def _prune(output_dir: Path) -> None:
    # Nothing at runtime reads these; dropping them keeps the asset small. botocore's service
    # models are most of the asset (30 of 47 MB): keep only the services the relay may call.
    for pattern in ("**/__pycache__", "bin"):
        for path in output_dir.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
    data = output_dir / "botocore" / "data"
    for service in data.iterdir() if data.is_dir() else ():
        if service.is_dir() and service.name not in BOTOCORE_SERVICES:
            shutil.rmtree(service)


@jsii.implements(ILocalBundling)
class _LocalPip:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        try:
            write_bundle(Path(output_dir), self._platform)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"relay bundling: local pip failed ({error}); trying Docker", file=sys.stderr)
            return False
        return True


@cache
def _bundling(architecture: Architecture) -> tuple[str, BundlingOptions]:
    # One options object per architecture, so CDK bundles the relay once per synthesis even
    # when several stacks carry it.
    platform = Platform(architecture)
    pip = " ".join(["pip", *pip_arguments(platform, "/asset-output")])
    docker_command = (
        f"{pip} && cp -r /asset-input/lambdas/relay /asset-output/relay && "
        f"printf '%s' '{RUN_SH}' > /asset-output/run.sh && chmod 755 /asset-output/run.sh"
    )
    options = BundlingOptions(
        image=RUNTIME.bundling_image,
        platform=platform.docker_platform,
        command=["bash", "-c", docker_command],
        local=_LocalPip(platform),
    )
    return asset_hash(platform), options


def relay_code(architecture: Architecture) -> lambda_.Code:
    """The relay's Lambda code asset, bundled locally with pip (Docker only as a fallback)."""
    digest, options = _bundling(architecture)
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=digest,
        bundling=options,
    )
