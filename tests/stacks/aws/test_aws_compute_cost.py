"""Lambda against Fargate per month at a steady load (stacks/aws/compute_cost.py), and the
Fargate relay's line in the cost table: each figure recomputed here from the list prices."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from aws_stack_helpers import RELAY_PRIMARY, REPO_ROOT

from relaykit.cli import main
from stacks.aws.compute_cost import (
    SECONDS_PER_MONTH,
    Load,
    crossover_per_second,
    crossover_table,
    endpoint_break_even_tasks,
    fargate_cost,
    fargate_tasks,
    lambda_cost,
)
from stacks.aws.compute_limits import limits_table
from stacks.aws.config import FargateSettings, LambdaSettings
from stacks.aws.infra_cost import (
    ALB_HOUR,
    FARGATE_GB_HOUR,
    FARGATE_VCPU_HOUR,
    LAMBDA_GB_SECOND,
    PUBLIC_IPV4_HOUR,
    REST_API_PER_MILLION_REQUESTS,
    estimate,
)

HOURS = 730
ISSUE_LOAD = Load(Decimal(10), Decimal(2))  # the issue's 10 requests/s of 2-second streams
FARGATE = FargateSettings()


def test_lambda_at_the_issues_load_and_1_gb_bills_52_million_gb_seconds() -> None:
    cost = lambda_cost(ISSUE_LOAD, LambdaSettings(memory_mb=1024))
    gb_seconds = 10 * 2 * 1 * HOURS * 3600
    assert cost.items[0].usd == gb_seconds * LAMBDA_GB_SECOND["arm64"]
    assert round(cost.items[0].usd) == 701  # the issue's "about $690" is a 30-day month
    api = next(i for i in cost.items if i.what == "API Gateway REST")
    assert api.usd == 10 * HOURS * 3600 * REST_API_PER_MILLION_REQUESTS / 1_000_000


def test_fargate_at_the_issues_load_is_two_default_tasks_a_balancer_and_four_addresses() -> None:
    cost = fargate_cost(ISSUE_LOAD, FARGATE)
    task = Decimal("0.5") * FARGATE_VCPU_HOUR["ARM64"] + 1 * FARGATE_GB_HOUR["ARM64"]
    fixed = (2 * task + ALB_HOUR + 4 * PUBLIC_IPV4_HOUR) * HOURS
    lcu = cost.month_usd - fixed
    assert Decimal(0) < lcu < 3  # 0.4 LCU: ten new connections a second
    assert round(cost.month_usd) == 62


def test_tasks_step_up_with_the_streams_in_flight() -> None:
    assert fargate_tasks(ISSUE_LOAD, FARGATE) == FARGATE.min_tasks
    assert fargate_tasks(Load(Decimal(500), Decimal(2)), FARGATE) == 5


def test_at_the_crossover_both_computes_cost_the_same() -> None:
    lam = LambdaSettings()
    rate = crossover_per_second(Decimal(2), lam, FARGATE)
    assert rate is not None
    at = Load(rate, Decimal(2))
    assert abs(lambda_cost(at, lam).month_usd - fargate_cost(at, FARGATE).month_usd) < Decimal(
        "0.01"
    )
    below, above = Load(rate / 2, Decimal(2)), Load(rate * 2, Decimal(2))
    assert lambda_cost(below, lam).month_usd < fargate_cost(below, FARGATE).month_usd
    assert lambda_cost(above, lam).month_usd > fargate_cost(above, FARGATE).month_usd


def test_longer_streams_bring_the_crossover_down() -> None:
    lam = LambdaSettings()
    short = crossover_per_second(Decimal(1), lam, FARGATE)
    long = crossover_per_second(Decimal(30), lam, FARGATE)
    assert short is not None
    assert long is not None
    assert long < short


def test_public_addresses_beat_interface_endpoints_up_to_twenty_tasks() -> None:
    assert endpoint_break_even_tasks() == 20
    assert FARGATE.max_tasks < endpoint_break_even_tasks()


def test_the_fargate_relay_stack_is_priced_by_the_hour_and_per_lcu(fargate_synthesis: Any) -> None:
    relay = estimate(fargate_synthesis.templates)[RELAY_PRIMARY]
    idle = {i.what: i.usd for i in relay.idle}
    task = Decimal("0.5") * FARGATE_VCPU_HOUR["ARM64"] + 1 * FARGATE_GB_HOUR["ARM64"]
    assert idle["2 Fargate tasks (arm64, 0.5 vCPU, 1 GB)"] == 2 * task * HOURS
    assert idle["Application Load Balancer"] == ALB_HOUR * HOURS
    assert idle["4 public IPv4 addresses"] == 4 * PUBLIC_IPV4_HOUR * HOURS
    per_request = [i.what for i in relay.per_request]
    assert "ALB LCU (a new connection)" in per_request
    assert not [w for w in per_request if "API Gateway" in w or "Lambda" in w]


def test_relaykit_cost_prints_both_computes_and_the_crossover(capsys: Any) -> None:
    args = ["cost", "--model", "claude-haiku-4-5", "--input", "400", "--output", "150"]
    args += ["--per-second", "10", "--stream-seconds", "2", "--templates", "/nonexistent"]
    assert main(args) == 0
    out = capsys.readouterr().out
    lam, fargate = lambda_cost(ISSUE_LOAD, LambdaSettings()), fargate_cost(ISSUE_LOAD, FARGATE)
    assert re.search(rf"^  lambda +\${lam.month_usd:,.2f} ", out, re.M), out
    assert re.search(rf"^  fargate +\${fargate.month_usd:,.2f} ", out, re.M), out
    rate = crossover_per_second(Decimal(2), LambdaSettings(), FARGATE)
    assert rate is not None
    assert f"Fargate costs less above {rate:,.2f} requests/s" in out
    assert f"{10 * SECONDS_PER_MONTH:,} requests/month" in out


def test_relaykit_cost_refuses_two_volumes(capsys: Any) -> None:
    args = ["cost", "--model", "claude-haiku-4-5", "--input", "1", "--output", "1"]
    assert main([*args, "--per-second", "1", "--per-day", "10"]) == 2
    assert "one of --per-day, --per-month or --per-second" in capsys.readouterr().err


def _docs_section(name: str) -> str:
    text = (REPO_ROOT / "docs" / "aws.md").read_text()
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"docs/aws.md has no {name} section"
    return match.group(1)


def test_docs_show_the_generated_crossover_table() -> None:
    table = crossover_table(LambdaSettings(), FargateSettings())
    assert _docs_section("compute-crossover") == table, f"regenerate docs/aws.md:\n{table}"


def test_docs_show_the_limits_of_each_compute() -> None:
    table = limits_table()
    assert _docs_section("limits-table") == table, f"regenerate docs/aws.md:\n{table}"
