"""Side by side: this relay, LiteLLM's proxy and a raw client, all against one Bedrock simulator.

Three scenarios, each at 1, 32 and 128 concurrent callers, in interleaved rounds (raw, relay,
LiteLLM, raw, ...) so that noise from other processes on the machine hits all three alike:

    invoke  Anthropic Messages, not streamed: the relay's /v1/messages and LiteLLM's /v1/messages
            on its Bedrock invoke path; the raw client calls InvokeModel.
    stream  the same, streamed; the latency is the time to the first text delta.
    chat    OpenAI Chat Completions: the relay's /v1/chat/completions (InvokeModel behind it) and
            LiteLLM's on its default Bedrock path, Converse; the raw client calls Converse.

Printed: added p50/p99 latency over the raw client, requests per second, the server's CPU time
per request and its peak RSS (from /proc), the cold start of each server (a fresh process until
its first request is answered), and the ratios LiteLLM / relay. Everything listens on 127.0.0.1;
each measurement stops after --seconds or --max-requests, whichever comes first.

LiteLLM is installed by this script, pinned, into its own virtual environment under
.tools/bench-litellm-<version> (with uv from PyPI, on first use only).

    .venv/bin/python bench/compare.py [--rounds 2] [--seconds 5] [--only relay,raw]

`--before DIR` adds a fourth system, "before": the relay from another checkout's `lambdas/`
(e.g. `git archive <commit> lambdas | tar -x -C /tmp/before`), measured in the same interleaved
rounds, so that a change is judged against its predecessor under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from loadclient import Connection, HttpError
from procstat import cpu_seconds, peak_rss_mb

from relay.catalog import DEFAULT_MODEL, Routing
from relay.targets import bedrock_target

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LITELLM_VERSION = "1.108.7"
KEY = "sk-bench-" + secrets.token_hex(16)
REGION = "us-east-1"
TARGET = bedrock_target(DEFAULT_MODEL, REGION, Routing.GLOBAL).model_id
PROMPT = "Benchmark, please."
MAX_TOKENS = 64
CALLERS = (1, 32, 128)
SCENARIOS = ("invoke", "stream", "chat")
SYSTEMS = ("raw", "relay", "before", "litellm")
Call = Callable[[Connection], Awaitable[float]]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- servers -------------------------------------------------------------------------------


def litellm_python(version: str) -> Path:
    """LiteLLM's proxy in its own virtual environment, installed on first use."""
    venv = ROOT / ".tools" / f"bench-litellm-{version}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    uv = ROOT / ".tools" / "uv" / "bin" / "uv"
    uv_command = str(uv) if uv.exists() else shutil.which("uv")
    print(f"installing litellm[proxy]=={version} into {venv.relative_to(ROOT)} ...", flush=True)
    if uv_command:
        subprocess.run([uv_command, "venv", "-q", "--python", PYTHON, str(venv)], check=True)
        install = [uv_command, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*install, f"litellm[proxy]=={version}"], check=True)
    return python


def litellm_config(simulator: str, directory: Path) -> Path:
    """Two LiteLLM models on the simulator: its invoke path, and its default (Converse)."""
    aws = {
        "aws_region_name": REGION,
        "aws_bedrock_runtime_endpoint": simulator,
        "aws_access_key_id": "simulator",
        "aws_secret_access_key": "simulator",
    }
    config = {
        "model_list": [
            {
                "model_name": "claude-invoke",
                "litellm_params": {"model": f"bedrock/invoke/{TARGET}", **aws},
            },
            {"model_name": "claude-chat", "litellm_params": {"model": f"bedrock/{TARGET}", **aws}},
        ]
    }
    path = directory / "litellm.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@dataclass
class Server:
    name: str
    args: list[str]
    env: dict[str, str]
    health: str
    cwd: Path = ROOT
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def start(
        self, port: int, first: Callable[[str], bool] | None = None, timeout: float = 300
    ) -> float:
        """Start on `port`; seconds until `first(url)` (or the health path) succeeds."""
        self.url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [a.replace("{port}", str(port)) for a in self.args],
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=(LOGS / f"{self.name}.log").open("ab"),
        )
        ready = first or (lambda url: httpx.get(url + self.health, timeout=2).status_code < 500)
        while True:
            try:
                if ready(self.url):
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"{self.name} did not start within {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def servers(
    simulator: str, litellm: Path, directory: Path, before: Path | None = None
) -> dict[str, Server]:
    relay_env = {
        "RELAY_BEDROCK_REGION": REGION,
        "RELAY_BEDROCK_ENDPOINT_URL": simulator,
        "RELAY_API_KEYS": KEY,
        "AWS_ACCESS_KEY_ID": "simulator",
        "AWS_SECRET_ACCESS_KEY": "simulator",
    }
    litellm_env = {
        "LITELLM_MASTER_KEY": KEY,
        # The bundled price map; the remote one would need the internet.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    config = litellm_config(simulator, directory)
    relay_args = [
        PYTHON, "-m", "uvicorn", "relay.app:create_app", "--factory", "--host", "127.0.0.1",
        "--port", "{port}", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return {
        "relay": Server("relay", relay_args, relay_env, "/health"),
        # The same server on another checkout's relay code (first on the path).
        "before": Server(
            "before",
            relay_args,
            {**relay_env, "PYTHONPATH": f"{before}{os.pathsep}{ROOT}"},
            "/health",
        ),
        "litellm": Server(
            "litellm",
            [
                str(litellm.parent / "litellm"),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--num_workers",
                "1",
            ],
            litellm_env,
            "/health/liveliness",
            cwd=directory,
        ),
    }


# --- calls ---------------------------------------------------------------------------------

ANTHROPIC = {"max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}
OPENAI = {"max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}
CONVERSE = {
    "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
    "inferenceConfig": {"maxTokens": MAX_TOKENS},
}
LOGS = Path(tempfile.gettempdir()) / "relay-bench-compare"
MODEL_PATH = "/model/" + TARGET.replace(":", "%3A")


def _eventstream_delta(buffer: bytearray) -> bool:
    """Whether the complete event-stream frames in `buffer` hold a text delta (they are
    consumed); InvokeModel's `chunk`s carry it base64-encoded, ConverseStream's in the clear."""
    while len(buffer) >= 12:
        total, headers = struct.unpack(">II", buffer[:8])
        if len(buffer) < total:
            break
        payload, buffer[:] = json.loads(buffer[12 + headers : total - 4]), buffer[total:]
        if "bytes" in payload and b"content_block_delta" in base64.b64decode(payload["bytes"]):
            return True
        if "delta" in payload:
            return True
    return False


async def _plain(conn: Connection, path: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    await conn.post(path, body)
    return time.perf_counter() - start


async def _ttft(conn: Connection, path: str, body: dict[str, Any], sse: bool) -> float:
    """Seconds to the first text delta; the stream is read to its end."""
    start, first, seen = time.perf_counter(), 0.0, bytearray()

    def on_chunk(chunk: bytes) -> None:
        nonlocal first
        if first:
            return
        seen.extend(chunk)
        found = b"event: content_block_delta" in seen if sse else _eventstream_delta(seen)
        if found:
            first = time.perf_counter() - start
        elif sse:
            del seen[:-32]  # a marker split over two chunks is still found

    await conn.post(path, body, on_chunk)
    if not first:
        raise HttpError(f"{path}: no text delta in the stream")
    return first


def calls(system: str) -> dict[str, Call]:
    """The three scenarios' calls for one system."""
    if system == "raw":
        invoke_body = {"anthropic_version": "bedrock-2023-05-31", **ANTHROPIC}
        stream_path = MODEL_PATH + "/invoke-with-response-stream"
        return {
            "invoke": lambda c: _plain(c, MODEL_PATH + "/invoke", invoke_body),
            "stream": lambda c: _ttft(c, stream_path, invoke_body, sse=False),
            "chat": lambda c: _plain(c, MODEL_PATH + "/converse", CONVERSE),
        }
    relay = system in ("relay", "before")
    invoke_model = DEFAULT_MODEL.alias if relay else "claude-invoke"
    chat_model = DEFAULT_MODEL.alias if relay else "claude-chat"
    messages = {"model": invoke_model, **ANTHROPIC}
    return {
        "invoke": lambda c: _plain(c, "/v1/messages", messages),
        "stream": lambda c: _ttft(c, "/v1/messages", {**messages, "stream": True}, sse=True),
        "chat": lambda c: _plain(c, "/v1/chat/completions", {"model": chat_model, **OPENAI}),
    }


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Cell:
    """Every sample of one (scenario, callers, system), merged over the rounds."""

    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0
    errors: int = 0

    def q(self, quantile: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else 0.0

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / len(self.samples) if self.samples else 0.0


async def measure(
    server: Server, call: Call, callers: int, seconds: float, max_requests: int, cell: Cell
) -> None:
    """`callers` concurrent loops of `call` against `server`, after a warm-up; the samples, wall
    time and server CPU time go into `cell`."""
    headers = {"x-api-key": KEY, "authorization": f"Bearer {KEY}"}
    connections = [Connection(server.url, headers) for _ in range(callers)]
    await asyncio.gather(*(call(c) for c in connections[:8]))  # warm up
    deadline = time.perf_counter() + seconds
    remaining = [max_requests]

    async def caller(conn: Connection) -> None:
        while remaining[0] > 0 and time.perf_counter() < deadline:
            remaining[0] -= 1
            try:
                cell.samples.append(await call(conn))
            except (HttpError, OSError, asyncio.IncompleteReadError):
                cell.errors += 1

    cpu, started = cpu_seconds(server.pid), time.perf_counter()
    await asyncio.gather(*(caller(c) for c in connections))
    cell.seconds += time.perf_counter() - started
    cell.cpu += cpu_seconds(server.pid) - cpu
    for conn in connections:
        await conn.close()


def cold_start(server: Server, port: int, runs: int) -> float:
    """Median seconds from a fresh process to its first answered Messages request."""

    def first(url: str) -> bool:
        body = {
            "model": "claude-invoke" if server.name == "litellm" else DEFAULT_MODEL.alias,
            **ANTHROPIC,
        }
        headers = {"x-api-key": KEY, "authorization": f"Bearer {KEY}"}
        return (
            httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=30).status_code
            == 200
        )

    times = []
    for _ in range(runs):
        try:
            times.append(server.start(port, first))
        finally:
            server.stop()
    return statistics.median(times)


@contextmanager
def simulator() -> Iterator[Server]:
    # Idle keep-alive connections are kept two minutes, as Bedrock's endpoints keep them long;
    # with uvicorn's default of 5 s the simulator would close the relay's pooled connections
    # while the other systems are measured.
    args = [
        PYTHON, "-m", "uvicorn", "relaykit.simulator.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
        "--no-access-log", "--timeout-keep-alive", "120",
    ]  # fmt: skip
    sim = Server("simulator", args, {}, "/_simulator/stats")
    sim.start(free_port())
    try:
        yield sim
    finally:
        sim.stop()


# --- printing ------------------------------------------------------------------------------


def versions(litellm: Path | None) -> list[str]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python {platform.python_version()}; relay at {commit}; "
        + ", ".join(
            f"{p} {metadata.version(p)}" for p in ("starlette", "uvicorn", "botocore", "h11")
        ),
    ]
    if litellm is not None:
        version = subprocess.run(
            [str(litellm), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        lines.append(
            f"litellm {version} (litellm[proxy], one worker) in "
            f"{litellm.parent.parent.relative_to(ROOT)}"
        )
    return lines


def report(
    cells: dict[tuple[str, int, str], Cell], systems: tuple[str, ...], rss: dict[str, float]
) -> None:
    peers = [s for s in systems if s != "raw"]
    columns = ("p50 ms", "p99 ms", "added p50", "added p99", "req/s", "CPU ms/req", "errors")
    head = (
        f"| {'scenario':8} | {'callers':>7} | {'system':8} | "
        + " | ".join(f"{c:>9}" for c in columns)
        + " |"
    )
    print("\n" + head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for scenario in SCENARIOS:
        for callers in CALLERS:
            raw = cells.get((scenario, callers, "raw"))
            for system in systems:
                cell = cells.get((scenario, callers, system))
                if cell is None:
                    continue
                added50 = (cell.q(0.5) - raw.q(0.5)) * 1000 if raw and system != "raw" else 0.0
                added99 = (cell.q(0.99) - raw.q(0.99)) * 1000 if raw and system != "raw" else 0.0
                print(
                    f"| {scenario:8} | {callers:7} | {system:8} | {cell.q(0.5) * 1000:9.2f} | "
                    f"{cell.q(0.99) * 1000:9.2f} | {added50:+9.2f} | {added99:+9.2f} | "
                    f"{cell.rate:9.0f} | {cell.cpu_ms:9.2f} | {cell.errors:9} |"
                )
    print("\npeak RSS (MB): " + ", ".join(f"{s} {rss[s]:.0f}" for s in peers if s in rss))
    if {"relay", "litellm", "raw"} <= set(systems):
        print(
            "\n| ratios | callers | added p50 LiteLLM/relay | req/s relay/LiteLLM "
            "| CPU ms/req LiteLLM/relay |"
        )
        print("|---|---|---|---|---|")
        for scenario in SCENARIOS:
            for callers in CALLERS:
                raw, relay, peer = (
                    cells[(scenario, callers, s)] for s in ("raw", "relay", "litellm")
                )
                relay_added = max(relay.q(0.5) - raw.q(0.5), 1e-5)
                peer_added = peer.q(0.5) - raw.q(0.5)
                print(
                    f"| {scenario} | {callers} | {peer_added / relay_added:.1f}x | "
                    f"{relay.rate / max(peer.rate, 1e-9):.1f}x | "
                    f"{peer.cpu_ms / max(relay.cpu_ms, 1e-9):.1f}x |"
                )
    if {"relay", "before"} <= set(systems):
        print("\n| after / before | callers | added p50 | req/s | CPU ms/req |")
        print("|---|---|---|---|---|")
        for scenario in SCENARIOS:
            for callers in CALLERS:
                raw, after, before = (
                    cells.get((scenario, callers, s)) for s in ("raw", "relay", "before")
                )
                if after is None or before is None:
                    continue
                base = raw.q(0.5) if raw else 0.0
                print(
                    f"| {scenario} | {callers} | "
                    f"{(after.q(0.5) - base) / max(before.q(0.5) - base, 1e-5):.2f}x | "
                    f"{after.rate / max(before.rate, 1e-9):.2f}x | "
                    f"{after.cpu_ms / max(before.cpu_ms, 1e-9):.2f}x |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--seconds", type=float, default=4.0, help="cap per measurement")
    parser.add_argument("--max-requests", type=int, default=3000, help="cap per measurement")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="fresh starts per server (0: no cold start)"
    )
    parser.add_argument(
        "--only", default="raw,relay,litellm", help="systems, e.g. raw,relay (default: no before)"
    )
    parser.add_argument("--before", type=Path, help="another checkout's lambdas/ (adds 'before')")
    parser.add_argument("--litellm-version", default=LITELLM_VERSION)
    args = parser.parse_args()
    wanted = args.only.split(",") + (["before"] if args.before else [])
    systems = tuple(s for s in SYSTEMS if s in wanted)

    LOGS.mkdir(exist_ok=True)
    litellm = litellm_python(args.litellm_version) if "litellm" in systems else None
    print("\n".join(versions(litellm)))
    print(f"command: {' '.join([Path(PYTHON).name, *sys.argv])}")
    cells: dict[tuple[str, int, str], Cell] = {}
    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, simulator() as sim:
        peers = servers(sim.url, litellm or Path("litellm"), Path(tmp), args.before)
        running = {name: peers[name] for name in systems if name != "raw"}
        try:
            for server in running.values():
                server.start(free_port())
            for round_number in range(args.rounds):
                print(f"round {round_number + 1}/{args.rounds} ...", flush=True)
                for scenario in SCENARIOS:
                    for callers in CALLERS:
                        for system in systems:
                            target = sim if system == "raw" else running[system]
                            cell = cells.setdefault((scenario, callers, system), Cell())
                            asyncio.run(
                                measure(
                                    target, calls(system)[scenario], callers,
                                    args.seconds, args.max_requests, cell,
                                )
                            )  # fmt: skip
            rss = {name: peak_rss_mb(server.pid) for name, server in running.items()}
        finally:
            for server in running.values():
                server.stop()
        report(cells, systems, rss)
        if running and args.cold_runs > 0:
            print("\ncold start, fresh process to first answered /v1/messages (median):")
            for name, server in running.items():
                seconds = cold_start(server, free_port(), args.cold_runs)
                print(f"  {name:8} {seconds * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
