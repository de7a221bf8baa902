"""Metering the hedged stream that lost the race (latency.py): it reached a model, so it gets a
usage record of its own (`status` "hedge_lost", the request id with "-hedge"), settled against
the key's budget beside the winner's.

What it used: the usage its first event reported when it started streaming too late; when it
was cancelled before its first byte, the prompt's input tokens as the winner's first event
counted them (Bedrock bills the input of a request it began to process), and no output.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio

from relay import offload
from relay.backends.base import Event, Stream
from relay.ledger import Admission, Ledger
from relay.log import logger
from relay.pricing import cost_usd
from relay.spool import dumps
from relay.usage import UsageRecord, routing_facts, usage_numbers

if TYPE_CHECKING:
    from starlette.requests import Request

    from relay.core import Plan, Route
    from relay.resilience import Outcome

_PROMPT = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


async def settle_loser(
    request: Request,
    plan: Plan,
    admission: Admission,
    ledger: Ledger,
    opened: Outcome[tuple[Stream, Event | None], Route],
) -> UsageRecord | None:
    loser = opened.loser
    if loser is None:
        return None
    usage: dict[str, Any] = {}
    if loser.value is not None:
        stream, first = loser.value
        with anyio.CancelScope(shield=True):
            await stream.close()
        usage = _start_usage(first)
    if not usage:
        usage = {k: v for k, v in _start_usage(opened.value[1]).items() if k in _PROMPT}
    route = loser.route
    numbers = usage_numbers(usage)
    record = UsageRecord(
        request_id=f"{request.state.request_id}-hedge",
        key_id=admission.key.key_id,
        model=route.model.anthropic_id,
        backend=route.label,
        model_id=route.model_id,
        status="hedge_lost",
        cost_usd=cost_usd(route.model, usage, route.premium),
        stream=True,
        input_tokens=numbers["input_tokens"],
        output_tokens=numbers["output_tokens"],
        cache_read_tokens=numbers["cache_read_tokens"],
        cache_write_tokens=numbers["cache_write_tokens"],
        **routing_facts(plan, route.model),
    )
    # Its cost was not reserved: it adds to what the winner settles.
    unreserved = dataclasses.replace(admission, reserved_usd=Decimal(0), headers={})
    try:
        await offload.call(ledger, ledger.settle, unreserved, record)
    except Exception:
        logger.exception(
            "usage settlement failed",
            extra={"request_id": record.request_id, "unsettled": dumps(unreserved, record)},
        )
    return record


def _start_usage(event: Event | None) -> dict[str, Any]:
    if event is None or event.get("type") != "message_start":
        return {}
    usage = (event.get("message") or {}).get("usage")
    return dict(usage) if isinstance(usage, dict) else {}
