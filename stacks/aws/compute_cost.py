"""Lambda or Fargate: what each compute costs a month at a steady load, and where they cross.

    .venv/bin/python -m stacks.aws.compute_cost 10 2     # requests/s, seconds per stream

A Lambda instance serves one request at a time and is billed per GB-second for the whole
stream, and API Gateway and the key authorizer bill per request: cost grows with requests times
stream length. Fargate tasks are billed by the hour whatever they serve, plus the load
balancer's hour and LCUs: a floor, then steps of one task per `STREAMS_PER_TASK` streams in
flight. Only what differs between the computes is priced (DynamoDB, logs, WAF and tokens are the
same for both); the prices are stacks/aws/infra_cost.py's, each with its source.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from stacks.aws.config import FargateSettings, LambdaSettings
from stacks.aws.infra_cost import (
    ALB_HOUR,
    ALB_LCU_HOUR,
    HOURS_PER_MONTH,
    INTERFACE_ENDPOINTS,
    LAMBDA_GB_SECOND,
    LAMBDA_PER_MILLION_REQUESTS,
    LCU_ACTIVE_CONNECTIONS,
    LCU_GB_PER_HOUR,
    LCU_NEW_CONNECTIONS_PER_SECOND,
    MILLION,
    PUBLIC_IPV4_HOUR,
    REST_API_PER_MILLION_REQUESTS,
    TYPICAL_AUTHORIZER_SECONDS,
    VPC_ENDPOINT_ZONE_HOUR,
    Item,
    task_hour,
)

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# Streams one task carries at once: bench/concurrent_slow_calls.py has one uvicorn worker finish
# 200 concurrent 5-second calls together (bench/RESULTS.md); the relay waits on Bedrock, so a
# stream costs the task memory and a connection, little CPU.
STREAMS_PER_TASK = 200
# A request and its streamed reply through the load balancer (the typical request of
# infra_cost.py: 400 tokens in, 150 out, as JSON and server-sent events).
EXCHANGE_BYTES = 8_000
AUTHORIZER_MEMORY_MB = 128
# The load balancer sits in two zones, with a public address in each.
ZONES = 2


@dataclass(frozen=True)
class Load:
    per_second: Decimal
    stream_seconds: Decimal

    @property
    def per_month(self) -> Decimal:
        return self.per_second * SECONDS_PER_MONTH

    @property
    def in_flight(self) -> Decimal:
        return self.per_second * self.stream_seconds


@dataclass(frozen=True)
class ComputeCost:
    compute: str
    items: tuple[Item, ...]

    @property
    def month_usd(self) -> Decimal:
        return sum((i.usd for i in self.items), Decimal(0))


def lambda_request_usd(stream_seconds: Decimal, lam: LambdaSettings) -> Decimal:
    """One request on the Lambda compute: the relay's GB-seconds for the whole stream, its
    invocation, API Gateway's request and the authorizer's invocation."""
    gb_second = LAMBDA_GB_SECOND[lam.architecture.value]
    relay = Decimal(lam.memory_mb) / 1024 * stream_seconds * gb_second
    authorizer = Decimal(AUTHORIZER_MEMORY_MB) / 1024 * TYPICAL_AUTHORIZER_SECONDS * gb_second
    invocations = 2 * LAMBDA_PER_MILLION_REQUESTS / MILLION
    return relay + authorizer + invocations + REST_API_PER_MILLION_REQUESTS / MILLION


def lambda_cost(load: Load, lam: LambdaSettings) -> ComputeCost:
    gb_second = LAMBDA_GB_SECOND[lam.architecture.value]
    requests = load.per_month
    gb_seconds = requests * Decimal(lam.memory_mb) / 1024 * load.stream_seconds
    authorizer = requests * Decimal(AUTHORIZER_MEMORY_MB) / 1024 * TYPICAL_AUTHORIZER_SECONDS
    return ComputeCost(
        "lambda",
        (
            Item(
                f"relay {lam.memory_mb} MB {lam.architecture.value}, {gb_seconds:,.0f} GB-s",
                gb_seconds * gb_second,
            ),
            Item(
                f"{requests:,.0f} relay and authorizer invocations",
                2 * requests * LAMBDA_PER_MILLION_REQUESTS / MILLION,
            ),
            Item("authorizer GB-s", authorizer * gb_second),
            Item("API Gateway REST", requests * REST_API_PER_MILLION_REQUESTS / MILLION),
        ),
    )


def fargate_tasks(load: Load, fargate: FargateSettings) -> int:
    """Tasks running at `load`: enough for the streams in flight, never fewer than the minimum."""
    return max(fargate.min_tasks, math.ceil(load.in_flight / STREAMS_PER_TASK))


def lcu_per_request_second(stream_seconds: Decimal) -> Decimal:
    """LCUs one request a second uses: the largest dimension (each request a new connection,
    held for its stream, carrying EXCHANGE_BYTES)."""
    return max(
        Decimal(1) / LCU_NEW_CONNECTIONS_PER_SECOND,
        stream_seconds / LCU_ACTIVE_CONNECTIONS,
        Decimal(EXCHANGE_BYTES * 3600) / (LCU_GB_PER_HOUR * 10**9),
    )


def _task_hour(fargate: FargateSettings) -> Decimal:
    return task_hour("ARM64", Decimal(fargate.cpu) / 1024, Decimal(fargate.memory_mib) / 1024)


def fargate_cost(load: Load, fargate: FargateSettings) -> ComputeCost:
    tasks = fargate_tasks(load, fargate)
    lcus = load.per_second * lcu_per_request_second(load.stream_seconds)
    addresses = tasks + ZONES
    return ComputeCost(
        "fargate",
        (
            Item(
                f"{tasks} arm64 tasks of {Decimal(fargate.cpu) / 1024} vCPU, "
                f"{Decimal(fargate.memory_mib) / 1024} GB",
                tasks * _task_hour(fargate) * HOURS_PER_MONTH,
            ),
            Item("load balancer hours", ALB_HOUR * HOURS_PER_MONTH),
            Item(f"{lcus:.2f} LCU", lcus * ALB_LCU_HOUR * HOURS_PER_MONTH),
            Item(
                f"{addresses} public IPv4 addresses",
                addresses * PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
            ),
        ),
    )


def crossover_per_second(
    stream_seconds: Decimal, lam: LambdaSettings, fargate: FargateSettings
) -> Decimal | None:
    """The request rate above which Fargate costs less than Lambda, for streams this long; None
    if Lambda stays cheaper up to what `fargate.max_tasks` tasks carry."""
    lambda_slope = lambda_request_usd(stream_seconds, lam) * SECONDS_PER_MONTH
    lcu_slope = lcu_per_request_second(stream_seconds) * ALB_LCU_HOUR * HOURS_PER_MONTH
    if lambda_slope <= lcu_slope:
        return None
    for tasks in range(fargate.min_tasks, fargate.max_tasks + 1):
        floor = (
            tasks * _task_hour(fargate) * HOURS_PER_MONTH
            + ALB_HOUR * HOURS_PER_MONTH
            + (tasks + ZONES) * PUBLIC_IPV4_HOUR * HOURS_PER_MONTH
        )
        rate = floor / (lambda_slope - lcu_slope)
        if rate * stream_seconds <= tasks * STREAMS_PER_TASK:
            return rate
    return None


def endpoint_break_even_tasks() -> int:
    """Tasks above which interface VPC endpoints (in both zones) cost less than a public IPv4
    address per task: the network choice of stacks/aws/constructs/fargate.py."""
    endpoints = len(INTERFACE_ENDPOINTS) * ZONES * VPC_ENDPOINT_ZONE_HOUR
    return int(endpoints / PUBLIC_IPV4_HOUR)


def comparison_lines(load: Load, lam: LambdaSettings, fargate: FargateSettings) -> list[str]:
    """What `relaykit cost` prints about the computes at `load`."""
    costs = (lambda_cost(load, lam), fargate_cost(load, fargate))
    lines = [
        f"compute at {load.per_second:,} requests/s of {load.stream_seconds} s streams "
        f"({load.in_flight:,.1f} in flight), per month (730 h; tokens, tables, logs and WAF "
        "are the same for both):"
    ]
    for cost in costs:
        items = "; ".join(f"{i.what} ${i.usd:,.2f}" for i in cost.items)
        lines.append(f"  {cost.compute:<8} ${cost.month_usd:,.2f}  ({items})")
    crossing = crossover_per_second(load.stream_seconds, lam, fargate)
    if crossing is None:
        lines.append(
            f"  crossover: none; Lambda stays cheaper for {load.stream_seconds} s streams up to "
            f"{fargate.max_tasks} tasks"
        )
    else:
        lines.append(
            f"  crossover: Fargate costs less above {crossing:,.2f} requests/s "
            f"({crossing * SECONDS_PER_MONTH:,.0f}/month) of {load.stream_seconds} s streams"
        )
    tasks = fargate_tasks(load, fargate)
    lines.append(
        f"  network: public IPv4 per task (${PUBLIC_IPV4_HOUR * HOURS_PER_MONTH:,.2f}) beats "
        f"{len(INTERFACE_ENDPOINTS)} interface VPC endpoints in {ZONES} zones "
        f"(${len(INTERFACE_ENDPOINTS) * ZONES * VPC_ENDPOINT_ZONE_HOUR * HOURS_PER_MONTH:,.2f})"
        f" up to {endpoint_break_even_tasks()} tasks; this load runs {tasks}"
    )
    return lines


CROSSOVER_STREAMS = (Decimal(1), Decimal(2), Decimal(5), Decimal(15), Decimal(60))


def crossover_table(lam: LambdaSettings, fargate: FargateSettings) -> str:
    """docs/aws.md's table: per stream length, the rate above which Fargate costs less, and
    both computes at the issue's example of 10 requests a second."""
    lines = [
        f"Lambda {lam.memory_mb} MB {lam.architecture.value} against "
        f"{fargate.min_tasks} to {fargate.max_tasks} Fargate tasks of "
        f"{Decimal(fargate.cpu) / 1024} vCPU and {Decimal(fargate.memory_mib) / 1024} GB "
        f"(arm64), us-east-1, 730-hour month:",
        "",
        "| Stream length | Fargate cheaper above | Lambda at 10 req/s | Fargate at 10 req/s |",
        "| --- | --- | --- | --- |",
    ]
    for seconds in CROSSOVER_STREAMS:
        rate = crossover_per_second(seconds, lam, fargate)
        load = Load(Decimal(10), seconds)
        above = "never (within maxTasks)" if rate is None else f"{rate:,.2f} req/s"
        lines.append(
            f"| {seconds} s | {above} | ${lambda_cost(load, lam).month_usd:,.2f} | "
            f"${fargate_cost(load, fargate).month_usd:,.2f} ({fargate_tasks(load, fargate)} "
            "tasks) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Iterable[str] = ()) -> None:
    args = list(argv) or sys.argv[1:]
    per_second, stream_seconds = (Decimal(a) for a in (args or ["10", "2"]))
    load = Load(per_second, stream_seconds)
    print("\n".join(comparison_lines(load, LambdaSettings(), FargateSettings())))


if __name__ == "__main__":
    main()
