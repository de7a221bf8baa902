"""The Lambda bundle's cold start, loaded as Lambda loads it: unzipped, read-only, fresh process.

Builds the bundle (stacks/aws/bundling.py) for this machine's Python and architecture, zips and
unzips it, makes it read-only, and starts the relay from it the way run.sh does (`python -m
uvicorn relay.app:create_app --factory`, only the bundle and the standard library on the path),
with the Bedrock simulator behind it. Prints the package sizes and, for the bundle with its
bytecode and the same bundle without, the median over --runs fresh processes of: import and build
(`create_app`), and process start to the first answered /v1/messages.

    .venv/bin/python bench/bundle_cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from procstat import cpu_seconds  # noqa: E402

from relay.catalog import DEFAULT_MODEL  # noqa: E402
from relaykit.simulator import SimulatorServer  # noqa: E402
from stacks.aws.bundling import Platform, write_bundle  # noqa: E402
from stacks.aws.config import Architecture  # noqa: E402

KEY = "sk-bench-bundle"
BODY = {
    "model": DEFAULT_MODEL.alias,
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}
IMPORT_AND_BUILD = (
    "import time; t = time.perf_counter();"
    "from relay.app import create_app; from relay.settings import Settings; import os;"
    "create_app(Settings.from_env(os.environ)); import uvicorn.main;"
    "print(time.perf_counter() - t)"
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def lambda_env(bundle: Path, simulator: str) -> dict[str, str]:
    """What the function's environment holds (see constructs/relay.py), pointed at the simulator."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(bundle),
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_BEDROCK_ENDPOINT_URL": simulator,
        "RELAY_API_KEYS": KEY,
        "AWS_ACCESS_KEY_ID": "simulator",
        "AWS_SECRET_ACCESS_KEY": "simulator",
        "AWS_REGION": "us-east-1",
        # Lambda's code folder is read-only; file modes alone do not stop root from writing
        # `__pycache__` into the bundle (which made "without bytecode" runs after the first
        # measure a compiled bundle), so Python is told not to write bytecode at all.
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def first_request(bundle: Path, simulator: str) -> tuple[float, float]:
    """Seconds from process start to the first answered request: wall time, and the CPU time
    the relay's process spent (which other processes' load on the machine does not inflate)."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-S", "-m", "uvicorn", "relay.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=lambda_env(bundle, simulator),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/v1/messages",
                    json=BODY,
                    headers={"x-api-key": KEY},
                    timeout=30,
                )
                response.raise_for_status()
                return time.perf_counter() - started, cpu_seconds(server.pid)
            except httpx.TransportError:
                if server.poll() is not None:
                    raise RuntimeError("the relay exited") from None
                if time.perf_counter() - started > 120:
                    raise RuntimeError("the relay did not answer within 120 s") from None
                time.sleep(0.005)
    finally:
        server.terminate()
        server.wait(timeout=10)


def import_and_build(bundle: Path, simulator: str) -> float:
    result = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_AND_BUILD],
        env=lambda_env(bundle, simulator),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


def read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


def writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per variant")
    args = parser.parse_args()
    machine = Architecture.ARM_64 if os.uname().machine == "aarch64" else Architecture.X86_64
    platform = Platform(
        machine, python_version=f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer() as simulator:
        built, archive = Path(tmp) / "built", Path(tmp) / "relay.zip"
        write_bundle(built, platform)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for path in sorted(built.rglob("*")):
                if path.is_file():
                    out.write(path, path.relative_to(built).as_posix())
        variants = {"with bytecode": Path(tmp) / "task", "without bytecode": Path(tmp) / "bare"}
        for target in variants.values():
            with zipfile.ZipFile(archive) as unzipping:
                unzipping.extractall(target)
        for cache in variants["without bytecode"].rglob("__pycache__"):
            shutil.rmtree(cache)
        unzipped = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
        print(
            f"python {sys.version.split()[0]} ({platform.machine}); bundle "
            f"{archive.stat().st_size / 2**20:.2f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped"
        )
        builds: dict[str, list[float]] = {name: [] for name in variants}
        firsts: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        for task in variants.values():
            read_only(task)
        try:
            for _ in range(args.runs):  # interleaved, so that load from elsewhere hits both
                for name, task in variants.items():
                    builds[name].append(import_and_build(task, simulator.url))
                    wall, cpu = first_request(task, simulator.url)
                    firsts[name].append(wall)
                    cpus[name].append(cpu)
        finally:
            for task in variants.values():
                writable(task)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        columns = ("import + build ms", "start to first answer ms", "the same, CPU ms")
        print(f"{'':18}" + "".join(f"{c:>26}" for c in columns))
        for name in variants:
            figures = (builds[name], firsts[name], cpus[name])
            print(f"{name:18}" + "".join(f"{statistics.median(f) * 1000:26.0f}" for f in figures))


if __name__ == "__main__":
    main()
