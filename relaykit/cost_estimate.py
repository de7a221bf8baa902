"""`relaykit cost`: what a request and a month of them cost, models side by side, formula shown.

Token prices, the regional premium and the batch factor come from the catalog only; the cost of
one request is `relay.pricing.cost_usd`, the function the relay meters with. A month is AWS's
730 hours (30.42 days): many guides multiply a daily volume by 30 and call a daily figure monthly,
so the command states which volume it was given and shows the multiplication. The
infrastructure beside the tokens is priced from a synthesis (`cdk.out`) by stacks/aws/infra_cost.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from relay.catalog import (
    BATCH_PRICE_FACTOR,
    MILLION,
    Model,
    Routing,
    UnknownModelError,
    by_alias,
    in_batch,
)
from relay.pricing import cost_usd
from relay.targets import NoRouteError, bedrock_target
from relaykit.failures import Failure
from relaykit.options import Json
from relaykit.output import emit_json, table, usd

DAYS_PER_MONTH = Decimal(730) / Decimal(24)


class CacheTtl(StrEnum):
    FIVE_MINUTES = "5m"
    ONE_HOUR = "1h"


@dataclass(frozen=True)
class Tokens:
    input: int
    output: int
    cache_read: int
    cache_write: int
    cache_ttl: CacheTtl

    def usage(self) -> dict[str, Any]:
        """As an Anthropic usage block, the shape the relay prices."""
        five, hour = (
            (self.cache_write, 0)
            if self.cache_ttl is CacheTtl.FIVE_MINUTES
            else (0, self.cache_write)
        )
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": five,
                "ephemeral_1h_input_tokens": hour,
            },
        }


@dataclass(frozen=True)
class Estimate:
    model: Model
    endpoint: str
    premium: bool
    batch: bool
    per_request: Decimal
    # The same request in a batch (Message Batches on Bedrock batch inference).
    batch_per_request: Decimal

    def formula(self, tokens: Tokens) -> str:
        prices = self.model.prices
        write_price = (
            prices.cache_write_5m
            if tokens.cache_ttl is CacheTtl.FIVE_MINUTES
            else prices.cache_write_1h
        )
        terms = [
            (tokens.input, "input", prices.input),
            (tokens.output, "output", prices.output),
            (tokens.cache_read, "cache read", prices.cache_read),
            (tokens.cache_write, f"cache write {tokens.cache_ttl.value}", write_price),
        ]
        shown = " + ".join(f"{n:,} {what} * ${price}" for n, what, price in terms if n)
        text = f"({shown or '0'}) / {MILLION:,}"
        if self.premium:
            text += f" * {1 + self.model.regional_premium} ({self.endpoint} premium)"
        if self.batch:
            text += f" * {BATCH_PRICE_FACTOR} (batch)"
        return f"{text} = {usd(self.per_request)}"


def estimate(model: Model, tokens: Tokens, region: str, routing: Routing, batch: bool) -> Estimate:
    try:
        target = bedrock_target(model, region, routing)
    except NoRouteError as error:
        raise Failure(
            f"--model {model.alias}: {error}; try another --region or --routing"
        ) from None
    batched = cost_usd(in_batch(model), tokens.usage(), target.premium)
    per_request = batched if batch else cost_usd(model, tokens.usage(), target.premium)
    endpoint = target.profile.geography.value if target.profile else "in-region"
    return Estimate(model, endpoint, target.premium, batch, per_request, batched)


def _model(alias: str) -> Model:
    try:
        return by_alias(alias)
    except UnknownModelError:
        raise typer.BadParameter(
            f"{alias!r} is not a catalog model (`relaykit models` lists them)",
            param_hint="'--model'",
        ) from None


def cost(
    model: Annotated[
        list[str], typer.Option(help="A catalog alias; repeat to compare models side by side.")
    ],
    input: Annotated[int, typer.Option("--input", min=0, help="Input tokens per request.")],
    output: Annotated[int, typer.Option("--output", min=0, help="Output tokens per request.")],
    cache_read: Annotated[int, typer.Option(min=0, help="Cache-read tokens per request.")] = 0,
    cache_write: Annotated[int, typer.Option(min=0, help="Cache-write tokens per request.")] = 0,
    cache_ttl: Annotated[
        CacheTtl, typer.Option(help="TTL of the cache writes.")
    ] = CacheTtl.FIVE_MINUTES,
    routing: Annotated[
        Routing, typer.Option(help="How the relay routes (sets the premium).")
    ] = Routing.GLOBAL,
    region: Annotated[str, typer.Option(help="The relay's Bedrock region.")] = "us-east-1",
    batch: Annotated[
        bool, typer.Option("--batch", help="Price as Bedrock batch inference.")
    ] = False,
    per_day: Annotated[int | None, typer.Option(min=1, help="Requests per day.")] = None,
    per_month: Annotated[int | None, typer.Option(min=1, help="Requests per month.")] = None,
    per_second: Annotated[
        float | None, typer.Option(min=0.001, help="Requests per second, steady.")
    ] = None,
    stream_seconds: Annotated[
        float,
        typer.Option(
            min=0.01, help="Seconds a request holds its connection (for Lambda vs Fargate)."
        ),
    ] = 2.0,
    lambda_memory: Annotated[
        int | None,
        typer.Option(
            min=128, max=10240, help="The relay function's memory (MB); default: cdk.json's."
        ),
    ] = None,
    templates: Annotated[
        Path,
        typer.Option(help="A synthesis (cdk synth's output folder) to price the infrastructure."),
    ] = Path("cdk.out"),
    json: Json = False,
) -> None:
    """Cost per request and per month for given tokens and volume, from the catalog's prices.

    Example: relaykit cost --model claude-haiku-4-5 --input 400 --output 150 --per-day 10000
    """
    if sum(v is not None for v in (per_day, per_month, per_second)) > 1:
        raise typer.BadParameter("give one of --per-day, --per-month or --per-second")
    tokens = Tokens(input, output, cache_read, cache_write, cache_ttl)
    estimates = [estimate(_model(alias), tokens, region, routing, batch) for alias in model]
    monthly_requests = (
        Decimal(per_month)
        if per_month
        else (Decimal(per_day) * DAYS_PER_MONTH if per_day else None)
    )
    if per_second is not None:
        monthly_requests = Decimal(str(per_second)) * DAYS_PER_MONTH * 86_400
    infra = infrastructure(templates)

    def monthly(e: Estimate) -> Decimal | None:
        if not monthly_requests:
            return None
        if infra is None:
            return e.per_request * monthly_requests
        return (e.per_request + infra.per_request) * monthly_requests + infra.idle_month

    if json:
        emit_json(
            [
                {
                    "model": e.model.alias,
                    "endpoint": e.endpoint,
                    "premium": e.premium,
                    "batch": e.batch,
                    "per_request_usd": e.per_request,
                    "batch_per_request_usd": e.batch_per_request,
                    "requests_per_month": monthly_requests,
                    "infra_per_request_usd": infra.per_request if infra else None,
                    "infra_idle_month_usd": infra.idle_month if infra else None,
                    "per_month_usd": monthly(e),
                    "formula": e.formula(tokens),
                }
                for e in estimates
            ]
        )
        return
    header = ["model", "endpoint", "per request"]
    if not batch:
        header.append("in a batch")
    if infra:
        header.append("+ infra")
    if monthly_requests:
        header.append("per month")
    rows = []
    for e in estimates:
        row = [e.model.alias, e.endpoint + (" batch" if e.batch else ""), usd(e.per_request)]
        if not batch:
            row.append(usd(e.batch_per_request))
        if infra:
            row.append(usd(infra.per_request))
        if monthly_requests:
            row.append(f"${monthly(e):,.2f}")
        rows.append(row)
    table(header, rows)
    print("\nper request:")
    for e in estimates:
        print(f"  {e.model.alias}: {e.formula(tokens)}")
    if monthly_requests:
        if per_month:
            volume = f"{per_month:,} requests/month"
        elif per_day:
            volume = f"{per_day:,} requests/day * 730 h/24 = {monthly_requests:,.0f} requests/month"
        else:
            volume = f"{per_second:,} requests/s * 730 h = {monthly_requests:,.0f} requests/month"
        extra = " + infra) " if infra else " "
        start = "(per request" if infra else "per request"
        idle = f" + ${infra.idle_month:,.2f} idle infrastructure" if infra else ""
        print(f"per month: {start}{extra}* {volume}{idle}")
    if infra:
        print(
            f"infrastructure: from {templates} ({infra.stacks} stacks): {usd(infra.per_request)} "
            f"per request (a typical request's Lambda, API Gateway, DynamoDB, logs), "
            f"${infra.idle_month:,.2f}/month idle (stacks/aws/infra_cost.py, us-east-1 prices)"
        )
    else:
        print(
            f"Infrastructure not included: no synthesis in {templates} "
            "(run `npx cdk synth`, or pass --templates)."
        )
    if monthly_requests:
        print()
        for line in compute_comparison(monthly_requests, stream_seconds, lambda_memory):
            print(line)


def compute_comparison(
    monthly_requests: Decimal, stream_seconds: float, lambda_memory: int | None
) -> list[str]:
    """Lambda against Fargate at this volume, steady, with streams this long: each compute's
    month and the crossover (stacks/aws/compute_cost.py, the cost table's prices); the sizes
    are the configuration's defaults (imported here: the CDK side loads only when asked)."""
    from stacks.aws.compute_cost import SECONDS_PER_MONTH, Load, comparison_lines
    from stacks.aws.config import FargateSettings, LambdaSettings

    load = Load(
        (monthly_requests / SECONDS_PER_MONTH).quantize(Decimal("0.001")),
        Decimal(str(stream_seconds)),
    )
    lam = LambdaSettings() if lambda_memory is None else LambdaSettings(memory_mb=lambda_memory)
    return comparison_lines(load, lam, FargateSettings())


@dataclass(frozen=True)
class Infrastructure:
    """What the synthesised stacks cost beside tokens (priced by stacks/aws/infra_cost.py)."""

    per_request: Decimal
    idle_month: Decimal
    stacks: int


def infrastructure(outdir: Path) -> Infrastructure | None:
    from stacks.aws.infra_cost import estimate as price
    from stacks.aws.infra_cost import read_templates

    templates = read_templates(outdir) if outdir.is_dir() else {}
    if not templates:
        return None
    priced = price(templates)
    # A request passes one relay: the dearest relay stack's per-request cost.
    return Infrastructure(
        max((e.per_request_usd for e in priced.values()), default=Decimal(0)),
        sum((e.idle_usd for e in priced.values()), Decimal(0)),
        len(priced),
    )
