"""Load through `relaykit local`'s table-backed relay: the simulator as Bedrock, the relay's
table in the embedded AWS (moto), a key with limits and budgets so every request is admitted
and settled in the table.

Sends N requests (half streamed) from C concurrent clients and prints requests/s, failures,
lost records (requests without exactly one usage record) and the process's RSS at the start and
the end (relay, embedded AWS and simulator share this process, as in `relaykit local`).

    .venv/bin/python bench/local_load.py [--requests 10000] [--clients 100]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import resource
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from relay.app import create_app
from relay.catalog import DEFAULT_MODEL, Routing
from relay.log import logger
from relay.settings import Settings
from relaykit.environment import LOCAL_TABLE, environment
from relaykit.threaded import ThreadedServer


@dataclass(frozen=True)
class LoadResult:
    requests: int
    clients: int
    seconds: float
    failures: int
    records: int
    duplicate_records: int
    rss_start_mb: float
    rss_end_mb: float

    @property
    def lost(self) -> int:
        return self.requests - self.records


def rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        pages = int(statm.read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _send(url: str, secret: str, requests: int, clients: int) -> int:
    """Failures: a status other than 200, or a stream without message_stop."""
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)
    failures = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            n = queue.get_nowait()
            body = {
                "model": DEFAULT_MODEL.alias,
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"load {n}"}],
                "stream": n % 2 == 1,
            }
            try:
                async with http.stream("POST", "/v1/messages", json=body) as response:
                    text = (await response.aread()).decode()
                ok = response.status_code == 200 and (
                    "event: message_stop" in text if body["stream"] else '"type":"message"' in text
                )
            except httpx.HTTPError:
                ok = False
            failures += not ok

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return failures


def run_load(requests: int, clients: int) -> LoadResult:
    settings = Settings(bedrock_region="us-east-1", routing=Routing.GLOBAL, table_name=LOCAL_TABLE)
    level = logger.log_level
    logger.setLevel(logging.WARNING)  # one usage line per request would dominate the run
    try:
        with environment("simulator", settings) as env:
            secret, key = env.store.create_key(
                "load",
                rpm=10 * requests,
                tpm=10_000 * requests,
                daily_usd=Decimal(1000),
                monthly_usd=Decimal(10_000),
            )
            app = create_app(dataclasses.replace(env.settings), env.services)
            with ThreadedServer(app, name="relay") as server:
                start_rss = rss_mb()
                started = time.perf_counter()
                failures = asyncio.run(_send(server.url, secret, requests, clients))
                seconds = time.perf_counter() - started
                end_rss = rss_mb()
            records = env.store.usage(key.key_id)
    finally:
        logger.setLevel(level)
    ids = [r.request_id for r in records]
    return LoadResult(
        requests,
        clients,
        seconds,
        failures,
        len(set(ids)),
        len(ids) - len(set(ids)),
        start_rss,
        end_rss,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    result = run_load(args.requests, args.clients)
    print(json.dumps(dataclasses.asdict(result) | {"lost": result.lost}))
    print(
        f"{result.requests} requests (half streamed), {result.clients} clients: "
        f"{result.requests / result.seconds:.0f} req/s over {result.seconds:.1f} s; "
        f"{result.failures} failures, {result.lost} lost records, "
        f"{result.duplicate_records} duplicates; "
        f"RSS {result.rss_start_mb:.0f} MB -> {result.rss_end_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
