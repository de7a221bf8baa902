"""Admission (rate limits, budgets) and settlement (what was used) for one request.

`Ledger` is the protocol; `relay.dynamo.DynamoStore` keeps counters in DynamoDB, enforced with
conditional writes so that concurrent Lambda instances cannot race past a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from relay.keys import ApiKey
from relay.log import log_usage_fields
from relay.usage import UsageRecord


@dataclass(frozen=True)
class Admission:
    """A request let through: what it reserved, and the rate-limit headers to send back."""

    key: ApiKey
    reserved_usd: Decimal = Decimal(0)
    minute: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    # Which estimate was reserved: 0 the request's own, n the n-th budget downgrade's.
    choice: int = 0


class Ledger(Protocol):
    blocking: bool

    def admit(
        self,
        key: ApiKey,
        estimate_usd: Decimal,
        downgrades: Sequence[Decimal] = (),
        *,
        whole: bool = False,
    ) -> Admission:
        """Count the request and reserve its estimated cost, or raise a 429 ApiError.

        With `downgrades` (the estimates of cheaper models to serve it instead, in order), the
        request and each downgrade but the last are admitted only if their whole estimate fits
        in what is left of the budget; the last one while anything is left, as without them.
        `Admission.choice` says which one was reserved. `whole`: the last one only if it fits
        too (a batch, whose estimate can be many requests' worth)."""
        ...

    def settle(self, admission: Admission, record: UsageRecord) -> None:
        """Replace the reservation by the real cost and store the usage record, exactly once."""
        ...


def log_usage(record: UsageRecord) -> None:
    log_usage_fields(
        {
            "request_id": record.request_id,
            "key_id": record.key_id,
            "model": record.model,
            "backend": record.backend,
            "status": record.status,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "cache_read_tokens": record.cache_read_tokens,
            "cache_write_tokens": record.cache_write_tokens,
            "cost_usd": str(record.cost_usd),
            "cached": record.cached,
            **record.routing_fields(),
        },
    )


class LogLedger:
    """No limits; usage records go to the log only (static keys, no table configured)."""

    blocking = False

    def admit(
        self,
        key: ApiKey,
        estimate_usd: Decimal,
        downgrades: Sequence[Decimal] = (),
        *,
        whole: bool = False,
    ) -> Admission:
        return Admission(key)

    def settle(self, admission: Admission, record: UsageRecord) -> None:
        log_usage(record)
