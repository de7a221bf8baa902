"""Packaging the relay for Lambda without Docker.

The asset is the `relay` package plus its runtime dependencies (the `[project] dependencies` of
pyproject.toml, pinned to the versions in uv.lock), installed as manylinux wheels for the Lambda
runtime's Python version and architecture, plus the `run.sh` the AWS Lambda Web Adapter starts.
Left out: uvloop and httptools (they speed up `relaykit serve`, a long-running server; a Lambda
instance serves one request at a time), Vertex AI's credentials library and its cryptography
unless the deployment uses Vertex AI, and botocore's models of services the relay never calls.
Docker is used only if local bundling is impossible (no uv or pip) and Docker is present.

Bytecode: Lambda's code folder is read-only, so a bundle without `.pyc` files compiles every
module on every cold start. The bundle is compiled by an interpreter of the runtime's version
(this one, `python3.14` on PATH, or one uv manages: `uv python install 3.14`), with hash-checked
bytecode that stays valid whatever file times the zip keeps. Without such an interpreter the
bundle still works, compiles at each cold start, and bundling says so. The runtime stays Python
3.14 although the kit itself runs on 3.11: Lambda deprecated python3.11 in June 2026 and 3.14 is
supported until 2029, so the deployment, not the build machine, decides.

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
# Only `relaykit serve` gains from these: a Lambda instance serves one request at a time.
SERVER_ONLY = frozenset({"uvloop", "httptools"})
# Vertex AI's keyless federation credentials (with cryptography, ~14 MB unzipped): only for a
# deployment that fails over to Vertex AI.
VERTEX_ONLY = frozenset({"google-auth"})
# Started by the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) as the handler.
RUN_SH = f"""#!/bin/sh
# Started by the AWS Lambda Web Adapter; the adapter forwards requests to this server.
export PYTHONPATH="/var/task:$PYTHONPATH"
exec python -m uvicorn relay.app:create_app --factory \\
    --host 127.0.0.1 --port "${{PORT:-{PORT}}}" --no-access-log
"""
# The botocore service models the relay calls (sts for the assume-role and web-identity
# credential providers, sqs for the usage spool, RELAY_USAGE_SPOOL); the others are dropped.
# Message Batches sign their S3 and Bedrock control-plane calls by hand (relay/batches/aws_http):
# those two models are ~0.3 MB zipped, more than the bundle's margin.
BOTOCORE_SERVICES = frozenset({"bedrock-runtime", "dynamodb", "sqs", "sts"})
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
# What no import of the relay reads: type stubs, botocore's examples of the models it keeps,
# dateutil's time-zone database (botocore uses only UTC and local time), boto3's resource models
# (the relay uses clients).
_STRIPPED = (
    "**/*.pyi",
    "botocore/data/*/*/examples-1.json",
    "dateutil/zoneinfo/*.tar.gz",
    "boto3/data/*/*/resources-1.json",
    # Installers' file lists; importlib.metadata reads names and versions, not these.
    "*.dist-info/RECORD",
    # uvicorn's protocol and loop modules for libraries the bundle leaves out (httptools, uvloop,
    # websockets, wsproto): its `auto` modules import them only once the library imported.
    "uvicorn/protocols/http/httptools_impl.py",
    "uvicorn/protocols/websockets/*_impl.py",
    "uvicorn/loops/uvloop.py",
    # pydantic's mypy plugin (read by mypy, never at run time); anyio's trio backend (trio is not
    # bundled) and its pytest plugin.
    "pydantic/mypy.py",
    "anyio/_backends/_trio.py",
    "anyio/pytest_plugin.py",
)
# Packages nothing imports: pydantic's v1 compatibility layer.
_UNUSED_PACKAGES = ("pydantic/v1",)
# Powertools beyond logging and metrics (its event handler and utilities, 6.7 of its 7 MB): the
# relay is a Starlette app. Logging imports these two utilities.
POWERTOOLS = "aws_lambda_powertools"
_POWERTOOLS_UNUSED = ("event_handler",)
_POWERTOOLS_UTILITIES_KEPT = frozenset({"__init__.py", "jmespath_utils", "typing"})


@dataclass(frozen=True)
class Platform:
    """The pip platform tags and marker environment of a Lambda architecture (and Python)."""

    architecture: Architecture
    python_version: str = PYTHON_VERSION

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
            "python_version": self.python_version,
            "python_full_version": self.python_version + ".0",
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


def pinned_requirements(platform: Platform, *, vertex: bool = False) -> tuple[str, ...]:
    """`name==version` for the runtime dependency closure in uv.lock, markers evaluated, without
    the server-only packages and (unless `vertex`) Vertex AI's."""
    left_out = SERVER_ONLY | (frozenset() if vertex else VERTEX_ONLY)
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
        if _applies(d, environment) and d["name"] not in left_out
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


def asset_hash(platform: Platform, *, vertex: bool = False) -> str:
    digest = hashlib.sha256()
    for path in sorted(RELAY_SOURCE.rglob("*.py")):
        digest.update(path.relative_to(RELAY_SOURCE).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update("\n".join(pinned_requirements(platform, vertex=vertex)).encode())
    kept = (sorted(_POWERTOOLS_UTILITIES_KEPT), sorted(BOTOCORE_SERVICES))
    stripped = (_STRIPPED, _UNUSED_PACKAGES, _POWERTOOLS_UNUSED, kept)
    digest.update(f"{RUNTIME.name}/{platform.machine}/{RUN_SH}/{stripped}".encode())
    digest.update(f"compiled: {bytecode_compiler(platform.python_version) is not None}".encode())
    return digest.hexdigest()


def installer() -> list[str] | None:
    """What installs wheels for another platform: the kit's own uv (its cache makes bundling
    work offline once the wheels were fetched), this interpreter's pip, or one on PATH."""
    bundled_uv = REPO_ROOT / ".tools" / "uv" / "bin" / "uv"
    if bundled_uv.is_file():
        return [str(bundled_uv), "pip"]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    uv = shutil.which("uv")
    return [uv, "pip"] if uv else None


def pip_arguments(
    platform: Platform, target: str, *, uv: bool = False, vertex: bool = False
) -> list[str]:
    """Install exactly the locked closure (`--no-deps`) as wheels for the Lambda platform."""
    arguments = ["install", "--quiet", "--no-deps", "--target", target]
    arguments += ["--python-version", platform.python_version, "--only-binary", ":all:"]
    if uv:
        arguments += ["--python-platform", f"{platform.machine}-manylinux_2_28"]
    else:
        arguments += ["--disable-pip-version-check", "--no-compile", "--implementation", "cp"]
        for tag in platform.pip_platforms:
            arguments += ["--platform", tag]
    return [*arguments, *pinned_requirements(platform, vertex=vertex)]


def bytecode_compiler(python_version: str) -> str | None:
    """An interpreter of `python_version` to compile the bundle with, if this machine has one."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if found:
        return found
    uv = REPO_ROOT / ".tools" / "uv" / "bin" / "uv"
    if uv.is_file():
        managed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(uv), "python", "find", "--no-project", python_version],
            capture_output=True,
            text=True,
            check=False,
        )
        if managed.returncode == 0 and managed.stdout.strip():
            return managed.stdout.strip()
    return None


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603


def _install(output_dir: Path, platform: Platform, vertex: bool) -> None:
    command = installer()
    if command is None:
        raise OSError("no pip or uv found to install the relay's dependencies")
    uv = command[-1] == "pip" and Path(command[0]).name == "uv"
    arguments = [*command, *pip_arguments(platform, str(output_dir), uv=uv, vertex=vertex)]
    # uv from its cache first (no network); then, for wheels it has never fetched, from PyPI.
    result = _run([*arguments, "--offline"]) if uv else None
    if result is None or result.returncode != 0:
        result = _run(arguments)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, command)


def _compile(output_dir: Path, python_version: str) -> None:
    compiler = bytecode_compiler(python_version)
    if compiler is None:
        print(
            f"relay bundling: no Python {python_version} here to precompile the bundle; it works, "
            f"but compiles its modules on every cold start (~0.8 s of CPU, bench/RESULTS.md; "
            f"uv python install {python_version})",
            file=sys.stderr,
        )
        return
    result = _run(
        [
            compiler, "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", "unchecked-hash",
            "-s", str(output_dir), "-p", "/var/task", str(output_dir),
        ]
    )  # fmt: skip
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, compiler)


def write_bundle(output_dir: Path, platform: Platform, *, vertex: bool = False) -> None:
    """Install the pinned wheels for `platform`, then the relay sources and run.sh; strip what
    nothing imports and precompile the rest."""
    _install(output_dir, platform, vertex)
    shutil.copytree(RELAY_SOURCE, output_dir / "relay", ignore=_IGNORED, dirs_exist_ok=True)
    _prune(output_dir)
    run = output_dir / "run.sh"
    run.write_text(RUN_SH)
    run.chmod(0o755)
    _compile(output_dir, platform.python_version)


def _prune(output_dir: Path) -> None:
    # Nothing at runtime reads these; dropping them keeps the asset small. botocore's service
    # models are most of the asset (30 of 47 MB): keep only the services the relay may call.
    (output_dir / ".lock").unlink(missing_ok=True)  # uv's, while it installed
    for pattern in ("**/__pycache__", "bin"):
        for path in output_dir.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
    for pattern in _STRIPPED:
        for path in output_dir.glob(pattern):
            path.unlink()
    for name in (*_UNUSED_PACKAGES, *(f"{POWERTOOLS}/{p}" for p in _POWERTOOLS_UNUSED)):
        shutil.rmtree(output_dir / name, ignore_errors=True)
    utilities = output_dir / POWERTOOLS / "utilities"
    for path in utilities.iterdir() if utilities.is_dir() else ():
        if path.name not in _POWERTOOLS_UTILITIES_KEPT:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if (output_dir / "certifi").is_dir():
        # botocore takes certifi's CA bundle when certifi is installed; its own copy is unused.
        (output_dir / "botocore" / "cacert.pem").unlink(missing_ok=True)
    data = output_dir / "botocore" / "data"
    for service in data.iterdir() if data.is_dir() else ():
        if service.is_dir() and service.name not in BOTOCORE_SERVICES:
            shutil.rmtree(service)


@jsii.implements(ILocalBundling)
class _LocalPip:
    def __init__(self, platform: Platform, vertex: bool) -> None:
        self._platform = platform
        self._vertex = vertex

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        try:
            write_bundle(Path(output_dir), self._platform, vertex=self._vertex)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"relay bundling: local pip failed ({error}); trying Docker", file=sys.stderr)
            return False
        return True


@cache
def _bundling(architecture: Architecture, vertex: bool) -> tuple[str, BundlingOptions]:
    # One options object per variant, so CDK bundles the relay once per synthesis even when
    # several stacks carry it.
    platform = Platform(architecture)
    pip = " ".join(["pip", *pip_arguments(platform, "/asset-output", vertex=vertex)])
    # The bundling image is the runtime's own: its python compiles the bytecode.
    docker_command = (
        f"{pip} && cp -r /asset-input/lambdas/relay /asset-output/relay && "
        f"printf '%s' '{RUN_SH}' > /asset-output/run.sh && chmod 755 /asset-output/run.sh && "
        "python -m compileall -q --invalidation-mode unchecked-hash "
        "-s /asset-output -p /var/task /asset-output"
    )
    options = BundlingOptions(
        image=RUNTIME.bundling_image,
        platform=platform.docker_platform,
        command=["bash", "-c", docker_command],
        local=_LocalPip(platform, vertex),
    )
    return asset_hash(platform, vertex=vertex), options


def relay_code(architecture: Architecture, *, vertex: bool = False) -> lambda_.Code:
    """The relay's Lambda code asset, bundled locally (Docker only as a fallback). `vertex` adds
    Vertex AI's credentials library, for a deployment whose relay fails over to Vertex AI (the
    AWS stacks configure none today: RELAY_VERTEX_PROJECT is not set on the function)."""
    digest, options = _bundling(architecture, vertex)
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=digest,
        bundling=options,
    )
