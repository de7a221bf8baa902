"""What a request may cost before it runs, and what it cost after: the usage record.

The estimate is an upper bound (input guessed generously, the full `max_tokens` of output, at
the dearest model and premium of the request's chain), so a budget reserved against it can be
overspent by at most one request's worth, whichever route answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from relay.catalog import MILLION, Model
from relay.cost import tokens

# Claude averages 3.5-4 characters of English per token; 2 keeps the guess above the real count
# for code and most scripts. Images cost at most about 1,600 tokens each.
_CHARS_PER_TOKEN = 2
_IMAGE_TOKENS = 1_600


def estimate_input_tokens(body: object) -> int:
    """A generous token count for a Messages body, without a tokenizer."""
    if isinstance(body, dict):
        source = body.get("source")
        if body.get("type") == "image" and isinstance(source, dict):
            return _IMAGE_TOKENS
        return sum(estimate_input_tokens(v) for v in body.values())
    if isinstance(body, list):
        return sum(estimate_input_tokens(v) for v in body)
    if isinstance(body, str):
        return math.ceil(len(body) / _CHARS_PER_TOKEN)
    return 1


def estimate_usd(model: Model, body: dict[str, Any], premium: bool) -> Decimal:
    """The most a request can cost: every input token at the dearest input rate (a 1-hour cache
    write), and `max_tokens` of output."""
    prices = model.prices
    dearest_input = max(prices.input, prices.cache_write_5m, prices.cache_write_1h)
    output = int(body.get("max_tokens") or model.max_output_tokens)
    total = (estimate_input_tokens(body) * dearest_input + output * prices.output) / MILLION
    return total * (1 + model.regional_premium) if premium else total


def estimate_chain_usd(chain: Iterable[tuple[Model, bool]], body: dict[str, Any]) -> Decimal:
    """The most a request can cost on any route of its chain (each a model and whether it
    carries the regional premium): a fallback to a dearer model or endpoint is settled at its
    own price, so the reservation must cover it."""
    return max(estimate_usd(model, body, premium) for model, premium in chain)


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
