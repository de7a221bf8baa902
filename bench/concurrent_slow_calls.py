"""How many slow model calls one relay worker carries at once.

The simulator answers every call after `--latency` seconds (5 s by default, a long generation);
`--calls` clients call the relay (one uvicorn worker) at the same moment, plain and streamed.
With no ceiling on concurrent provider calls, all of them finish in about one latency.
The simulator, the relay and this load generator run as three processes.

    .venv/bin/python bench/concurrent_slow_calls.py [--calls 200] [--latency 5] [--relay-src DIR]

`--relay-src` runs the relay from another checkout's `lambdas/` (for a before/after table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from relay_overhead import KEY, PYTHON, TARGET, free_port, process

from relay.catalog import DEFAULT_MODEL

ROOT = Path(__file__).parents[1]
MESSAGES = [{"role": "user", "content": "hi"}]
BODY = {"model": DEFAULT_MODEL.alias, "max_tokens": 16, "messages": MESSAGES}


async def one(http: httpx.AsyncClient, stream: bool | None) -> tuple[float, int]:
    """One call through the relay (plain or streamed), or (None) straight to the simulator."""
    started = time.perf_counter()
    if stream is None:
        body = {"anthropic_version": "bedrock-2023-05-31", **BODY}
        del body["model"]
        response = await http.post(f"/model/{quote(TARGET, safe='')}/invoke", json=body)
        ok = response.status_code == 200
    elif stream:
        async with http.stream("POST", "/v1/messages", json={**BODY, "stream": True}) as response:
            text = "".join([line async for line in response.aiter_lines()])
            ok = response.status_code == 200 and "message_stop" in text
    else:
        response = await http.post("/v1/messages", json=BODY)
        ok = response.status_code == 200
    return time.perf_counter() - started, int(ok)


async def wave(url: str, calls: int, stream: bool | None) -> tuple[float, list[float], int]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(
        base_url=url, headers={"x-api-key": KEY}, limits=limits, timeout=120
    ) as http:
        started = time.perf_counter()
        results = await asyncio.gather(*(one(http, stream) for _ in range(calls)))
        wall = time.perf_counter() - started
    return wall, sorted(r[0] for r in results), sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="concurrent calls per wave")
    parser.add_argument("--latency", type=float, default=5.0, help="simulator latency (s)")
    parser.add_argument("--relay-src", type=Path, default=ROOT / "lambdas", help="relay code")
    args = parser.parse_args()

    sim_port, relay_port = free_port(), free_port()
    simulator = [
        PYTHON, "-c",
        "import sys; from relaykit.simulator import SimulatorConfig;"
        "from relaykit.simulator.server import serve;"
        "serve(port=int(sys.argv[1]), config=SimulatorConfig(latency=float(sys.argv[2])))",
        str(sim_port), str(args.latency),
    ]  # fmt: skip
    relay = [
        PYTHON, "-m", "uvicorn", "relay.app:create_app", "--factory", "--workers", "1",
        "--port", str(relay_port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with process(simulator, sim_port) as sim_url:
        env = {
            "PYTHONPATH": f"{args.relay_src}{os.pathsep}{ROOT}",
            "RELAY_BEDROCK_REGION": "us-east-1",
            "RELAY_BEDROCK_ENDPOINT_URL": sim_url,
            "RELAY_API_KEYS": KEY,
            "AWS_ACCESS_KEY_ID": "simulator",
            "AWS_SECRET_ACCESS_KEY": "simulator",
        }
        with process(relay, relay_port, env) as relay_url:
            asyncio.run(wave(relay_url, 4, False))  # warm up
            print(f"relay from {args.relay_src}, simulator latency {args.latency:g} s")
            print(f"{'':24}{'calls':>6}{'ok':>6}{'wall s':>8}{'p50 s':>8}{'max s':>8}")
            # The simulator alone: what this machine's CPU allows before the relay adds its part.
            rows = ((sim_url, None, "simulator alone"), (relay_url, False, "relay, plain"))
            for url, stream, name in (*rows, (relay_url, True, "relay, streamed")):
                wall, times, ok = asyncio.run(wave(url, args.calls, stream))
                p50 = times[len(times) // 2]
                print(f"{name:24}{args.calls:6}{ok:6}{wall:8.2f}{p50:8.2f}{times[-1]:8.2f}")


if __name__ == "__main__":
    sys.exit(main())
