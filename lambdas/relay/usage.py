"""The usage record: one request's facts for billing and reports, never its content."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from relay.pricing import tokens


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

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


def usage_numbers(usage: dict[str, Any]) -> dict[str, int]:
    """The token counts of an Anthropic usage block, zero where absent."""
    return {
        "input_tokens": tokens(usage, "input_tokens"),
        "output_tokens": tokens(usage, "output_tokens"),
        "cache_read_tokens": tokens(usage, "cache_read_input_tokens"),
        "cache_write_tokens": tokens(usage, "cache_creation_input_tokens"),
    }
