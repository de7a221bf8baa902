"""The usage record: one request's facts for billing and reports, never its content."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from relay.pricing import tokens

if TYPE_CHECKING:
    from relay.catalog import Model
    from relay.core import Plan


@dataclass(frozen=True)
class UsageRecord:
    """One request's facts for billing and reports. Never its content."""

    request_id: str
    key_id: str
    model: str
    backend: str
    model_id: str
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    cached: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # What the client asked for and why another model served: the name it sent (a router's,
    # an alias), the model savings are measured against ("" when `model` itself), the router
    # rule that chose the model, and whether a budget downgrade did.
    requested: str = ""
    asked_model: str = ""
    route: str = ""
    downgraded: bool = False

    def routing_fields(self) -> dict[str, Any]:
        """The routing facts that are set, for log lines and table items."""
        fields = {name: getattr(self, name) for name in _ROUTING}
        return {name: value for name, value in fields.items() if value}

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


_ROUTING = ("requested", "asked_model", "route", "downgraded")


def routing_facts(plan: Plan, served: Model) -> dict[str, Any]:
    """A record's routing fields for a plan served by `served`."""
    asked = plan.baseline or plan.model
    return {
        "requested": plan.requested,
        "asked_model": asked.anthropic_id if asked != served else "",
        "route": plan.route.label if plan.route is not None else "",
        "downgraded": plan.downgraded,
    }


def usage_numbers(usage: dict[str, Any]) -> dict[str, int]:
    """The token counts of an Anthropic usage block, zero where absent."""
    return {
        "input_tokens": tokens(usage, "input_tokens"),
        "output_tokens": tokens(usage, "output_tokens"),
        "cache_read_tokens": tokens(usage, "cache_read_input_tokens"),
        "cache_write_tokens": tokens(usage, "cache_creation_input_tokens"),
    }
