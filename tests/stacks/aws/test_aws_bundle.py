"""The relay's Lambda bundle: small, precompiled, and importable as Lambda loads it.

Built once for this machine's Python and architecture (the Lambda runtime's own may not be here
to compile with); apart from the wheels' tags, it is the bundle `cdk synth` ships.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stacks.aws.bundling import PYTHON_VERSION, RUNTIME, Platform, bytecode_compiler, write_bundle
from stacks.aws.config import Architecture

# The target for the zipped Lambda package.
MAX_ZIPPED_BYTES = 8 * 1024 * 1024
HOST = Platform(
    Architecture.ARM_64 if os.uname().machine == "aarch64" else Architecture.X86_64,
    python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("relay-bundle")
    write_bundle(output, HOST)
    return output


def zipped_size(root: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.tell()


def test_the_zipped_bundle_is_within_the_target(bundle: Path) -> None:
    assert zipped_size(bundle) <= MAX_ZIPPED_BYTES


def test_server_only_and_vertex_packages_stay_out(bundle: Path) -> None:
    present = {path.name for path in bundle.iterdir()}

    assert not present & {"uvloop", "httptools", "google", "cryptography", "cffi"}
    assert {"relay", "starlette", "uvicorn", "boto3", "pydantic"} <= present


def test_the_bundle_carries_hash_checked_bytecode(bundle: Path) -> None:
    tag = sys.implementation.cache_tag
    compiled = bundle / "relay" / "__pycache__" / f"app.{tag}.pyc"

    # Flags 0b01: hash-based, unchecked, so file times in the zip do not matter.
    assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01


@pytest.fixture(scope="module")
def runtime_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle as `cdk synth` builds it here: the Lambda runtime's Python, not this one."""
    output = tmp_path_factory.mktemp("relay-bundle-runtime")
    write_bundle(output, Platform(HOST.architecture))
    return output


def test_the_bundle_is_built_for_the_runtime_it_deploys_to() -> None:
    assert RUNTIME.name == f"python{PYTHON_VERSION}"


def test_bytecode_is_the_runtimes_own_or_absent(runtime_bundle: Path) -> None:
    # Lambda's Python reads only .pyc files of its own minor version (the cache tag): any other
    # would be dead weight, and a bundle compiled with none compiles at every cold start.
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    compiled = sorted(runtime_bundle.rglob("*.pyc"))
    assert {path.name.split(".")[-2] for path in compiled} <= {tag}
    if bytecode_compiler(PYTHON_VERSION) is None:
        assert compiled == []
    else:
        assert (runtime_bundle / "relay" / "__pycache__" / f"app.{tag}.pyc").is_file()


def set_writable(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~WRITE_BITS)


WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
BUILD_AND_SERVE = (
    "from relay.app import create_app; from relay.settings import Settings;"
    "create_app(Settings.from_env({'RELAY_BEDROCK_REGION': 'us-east-1', 'RELAY_API_KEYS': 'k'}));"
    "import uvicorn.main;"
    # Every relay module, the lazily imported ones too (batches, Vertex, chat): one importing a
    # library the bundle leaves out would fail only on the request that needs it. Not
    # http_protocol: relaykit serve's httptools protocol (the bundle serves with h11).
    "import importlib, pkgutil, relay;"
    "[importlib.import_module(m.name) for m in pkgutil.walk_packages(relay.__path__, 'relay.')"
    " if m.name != 'relay.http_protocol'];"
    # What `uvicorn` loads for its default protocols and loop, with the unused ones stripped.
    "import os; os.environ.update(RELAY_BEDROCK_REGION='us-east-1', RELAY_API_KEYS='k');"
    "import uvicorn; uvicorn.Config(create_app, factory=True).load();"
    "import boto3; boto3.client('sqs', region_name='us-east-1')"
)


def test_the_relay_imports_and_builds_from_the_read_only_bundle(bundle: Path) -> None:
    set_writable(bundle, False)  # Lambda's code folder is read-only
    try:
        # -S: nothing but the bundle and the standard library (Lambda's own boto3 is shadowed
        # by the bundle's).
        result = subprocess.run(
            [sys.executable, "-S", "-c", BUILD_AND_SERVE],
            # Read-only modes do not stop root; Lambda's read-only folder does.
            env={
                "PYTHONPATH": str(bundle),
                "PATH": os.environ.get("PATH", ""),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        set_writable(bundle, True)

    assert result.returncode == 0, result.stderr
