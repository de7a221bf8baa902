"""Metering one request: its usage record, settled in the ledger, logged and emitted as metrics.

Every request that reached a backend (or the cache) gets exactly one record, whatever ended it:
success, a provider error, a mid-stream failure or a client that went away.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from relay import offload
from relay.backends.base import Event, Metrics
from relay.catalog import Model
from relay.errors import ApiError
from relay.ledger import Admission, Ledger
from relay.log import logger
from relay.metrics import emit
from relay.pricing import cost_usd
from relay.savings import baseline_usd
from relay.spool import dumps
from relay.usage import UsageRecord, routing_facts, usage_numbers

if TYPE_CHECKING:
    from starlette.requests import Request

    from relay.core import Plan, Route
    from relay.resilience import Outcome

# Output of a stream cut short is counted from the text seen, at about 4 characters a token.
_CHARS_PER_TOKEN = 4


class Meter:
    def __init__(
        self,
        request: Request,
        plan: Plan,
        admission: Admission,
        ledger: Ledger,
        *,
        metrics: bool,
        cached: bool = False,
    ) -> None:
        self._request = request
        self._plan = plan
        self._admission = admission
        self._ledger = ledger
        self._metrics = metrics
        self._cached = cached
        self._started = time.perf_counter()
        self._route: Route = plan.routes[0]
        self._failed_over = False
        self._latency: Mapping[str, int] = {}
        self._ttft_ms: float | None = None
        self._streamed_chars = 0

    @property
    def route_model(self) -> Model:
        return self._route.model

    def served(self, outcome: Outcome[Any, Route]) -> None:
        self._route = outcome.route
        self._failed_over = outcome.failed_over
        self._latency = outcome.latency_counts()

    def saw(self, event: Event) -> None:
        """Note a stream event: the first delta's time, and how much text has gone out."""
        if event.get("type") != "content_block_delta":
            return
        if self._ttft_ms is None:
            self._ttft_ms = self._elapsed_ms()
        delta = event.get("delta") or {}
        for field in ("text", "partial_json", "thinking"):
            value = delta.get(field)
            if isinstance(value, str):
                self._streamed_chars += len(value)

    def _elapsed_ms(self) -> float:
        return round((time.perf_counter() - self._started) * 1000, 1)

    async def finish(
        self,
        usage: dict[str, Any],
        *,
        provider: Metrics | None = None,
        status: ApiError | None = None,
        disconnected: bool = False,
    ) -> UsageRecord:
        numbers = usage_numbers(usage)
        if provider is not None:
            numbers["input_tokens"] = numbers["input_tokens"] or provider.input_tokens or 0
            numbers["output_tokens"] = numbers["output_tokens"] or provider.output_tokens or 0
        if disconnected and not numbers["output_tokens"]:
            numbers["output_tokens"] = math.ceil(self._streamed_chars / _CHARS_PER_TOKEN)
        priced = {**usage, "input_tokens": numbers["input_tokens"]}
        priced["output_tokens"] = numbers["output_tokens"]
        cost = (
            Decimal(0) if self._cached else cost_usd(self._route.model, priced, self._route.premium)
        )
        record = UsageRecord(
            request_id=self._request.state.request_id,
            key_id=self._admission.key.key_id,
            model=self._route.model.anthropic_id,
            backend=self._route.label,
            model_id=self._route.model_id,
            status=_status(status, disconnected, self._cached),
            cost_usd=cost,
            latency_ms=self._elapsed_ms(),
            ttft_ms=self._ttft_ms,
            stream=self._plan.stream,
            cached=self._cached,
            input_tokens=numbers["input_tokens"],
            output_tokens=numbers["output_tokens"],
            cache_read_tokens=numbers["cache_read_tokens"],
            cache_write_tokens=numbers["cache_write_tokens"],
            **routing_facts(self._plan, self._route.model),
        )
        try:
            await offload.call(self._ledger, self._ledger.settle, self._admission, record)
        except Exception:
            # The reply stands. Retries and the spool are behind the ledger; past them (no spool
            # configured, or the spool down too) the log line carries the spool entry (ids,
            # tokens, cost; never content), which `relaykit usage-replay` takes from a file.
            logger.exception(
                "usage settlement failed",
                extra={
                    "request_id": record.request_id,
                    "unsettled": dumps(self._admission, record),
                },
            )
        if self._metrics:
            asked = self._plan.baseline or self._plan.model
            saved = (
                baseline_usd(record, self._route.model, asked) - record.cost_usd
                if record.asked_model
                else None
            )
            emit(
                record,
                self._route.model.alias,
                status.type.value if status else None,
                self._failed_over,
                saved_usd=saved,
                latency=self._latency,
            )
        self._request.state.facts.update(
            backend=record.backend,
            model_id=record.model_id,
            cost_usd=float(record.cost_usd),
            ttft_ms=record.ttft_ms,
            **numbers,
        )
        return record


def _status(error: ApiError | None, disconnected: bool, cached: bool) -> str:
    if error is not None:
        return error.code or error.type.value
    if disconnected:
        return "client_disconnected"
    return "cached" if cached else "ok"
