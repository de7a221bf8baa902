"""What the relay adds over calling Bedrock directly, measured against the offline simulator.

Prints, for concurrency 1 and 32: p50/p99 latency of non-streamed calls and time to first token of
streamed calls, directly with boto3 and through the relay; the relay's requests per second on
one uvicorn worker; and the relay's cold import-and-build time. The simulator, the relay and this
load generator run as three processes, as they would in production.

    .venv/bin/python bench/relay_overhead.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from relay.catalog import DEFAULT_MODEL, Routing
from relay.targets import bedrock_target
from relaykit.simulator import simulator_client
from relaykit.threaded import wait_until_healthy

ROOT = Path(__file__).parents[1]
PYTHON = sys.executable
KEY = "sk-bench"
BODY = {"max_tokens": 64, "messages": [{"role": "user", "content": "Benchmark, please."}]}
TARGET = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL).model_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def relay_env(sim_url: str) -> dict[str, str]:
    """The relay's environment in front of the simulator, with its one key."""
    return {
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_BEDROCK_ENDPOINT_URL": sim_url,
        "RELAY_API_KEYS": KEY,
        "AWS_ACCESS_KEY_ID": "simulator",
        "AWS_SECRET_ACCESS_KEY": "simulator",
    }


def timed(calls: int, concurrency: int, call: Callable[[], float]) -> tuple[list[float], float]:
    """Run `call` `calls` times on `concurrency` threads; its return value is the metric (s)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        samples = list(pool.map(lambda _: call(), range(calls)))
    return samples, calls / (time.perf_counter() - started)


def direct_invoke(client: object) -> Callable[[], float]:
    def call() -> float:
        start = time.perf_counter()
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", **BODY})
        client.invoke_model(modelId=TARGET, body=body)["body"].read()  # type: ignore[attr-defined]
        return time.perf_counter() - start

    return call


def direct_ttft(client: object) -> Callable[[], float]:
    def call() -> float:
        start = time.perf_counter()
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", **BODY})
        stream = client.invoke_model_with_response_stream(  # type: ignore[attr-defined]
            modelId=TARGET, body=body
        )["body"]
        first = 0.0
        for part in stream:
            if not first and b"content_block_delta" in part["chunk"]["bytes"]:
                first = time.perf_counter() - start
        return first

    return call


def relay_invoke(http: httpx.Client) -> Callable[[], float]:
    def call() -> float:
        start = time.perf_counter()
        http.post("/v1/messages", json={"model": DEFAULT_MODEL.alias, **BODY}).raise_for_status()
        return time.perf_counter() - start

    return call


def relay_ttft(http: httpx.Client) -> Callable[[], float]:
    def call() -> float:
        start = time.perf_counter()
        first = 0.0
        body = {"model": DEFAULT_MODEL.alias, "stream": True, **BODY}
        with http.stream("POST", "/v1/messages", json=body) as response:
            for line in response.iter_lines():
                if not first and line == "event: content_block_delta":
                    first = time.perf_counter() - start
        return first

    return call


def ms(samples: list[float], q: float) -> str:
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:7.2f}"


def cold_import() -> float:
    code = (
        "import time; t = time.perf_counter();"
        "from relay.app import create_app; from relay.settings import Settings;"
        "create_app(Settings.from_env({'RELAY_BEDROCK_REGION': 'us-east-1',"
        " 'RELAY_API_KEYS': 'k'}));"
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(5)
    ]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="calls per measurement")
    args = parser.parse_args()

    sim_port, relay_port = free_port(), free_port()
    simulator = [PYTHON, "-m", "relaykit.cli", "simulator", "--port", str(sim_port)]
    relay = [
        PYTHON, "-m", "uvicorn", "relay.app:create_app", "--factory",
        "--port", str(relay_port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with process(simulator, sim_port) as sim_url:
        env = relay_env(sim_url)
        with process(relay, relay_port, env) as relay_url:
            boto = simulator_client(sim_url)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            http = httpx.Client(
                base_url=relay_url, headers={"x-api-key": KEY}, limits=limits, timeout=60
            )
            for call in (direct_invoke(boto), relay_invoke(http)):  # warm both paths
                timed(20, 4, call)
            print(f"{'':34}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>9}")
            for concurrency in (1, 32):
                for name, call in (
                    ("direct boto3, invoke", direct_invoke(boto)),
                    ("through relay, invoke", relay_invoke(http)),
                    ("direct boto3, stream TTFT", direct_ttft(boto)),
                    ("through relay, stream TTFT", relay_ttft(http)),
                ):
                    samples, rate = timed(args.requests, concurrency, call)
                    label = f"c={concurrency:<3}{name}"
                    print(f"{label:34}{ms(samples, 0.5):>8}{ms(samples, 0.99):>8}{rate:9.1f}")
    print(f"relay cold import + build (median of 5): {cold_import() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
