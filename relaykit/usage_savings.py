"""`relaykit usage KEY_ID --savings`: what routing and budget downgrades saved, from the usage
records: each record's real cost beside its cost at the model asked for (relay.savings, priced
by the catalog), grouped by the model asked for and the model that served."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from relay.savings import record_baseline_usd
from relay.usage import UsageRecord
from relaykit.output import table, usd


@dataclass
class Pair:
    """The requests that asked for one model and were served by another (or the same)."""

    asked: str
    served: str
    requests: int = 0
    cost_usd: Decimal = Decimal(0)
    at_asked_usd: Decimal = Decimal(0)

    @property
    def saved_usd(self) -> Decimal:
        return self.at_asked_usd - self.cost_usd


def savings(records: Iterable[UsageRecord]) -> dict[str, Any]:
    """Totals and per (asked, served) pair: requests, spend, spend at the asked model, saved."""
    pairs: dict[tuple[str, str], Pair] = {}
    for record in records:
        asked = record.asked_model or record.model
        pair = pairs.setdefault((asked, record.model), Pair(asked, record.model))
        pair.requests += 1
        pair.cost_usd += record.cost_usd
        pair.at_asked_usd += record_baseline_usd(record)
    by = [pairs[k] for k in sorted(pairs)]
    cost = sum((p.cost_usd for p in by), Decimal(0))
    baseline = sum((p.at_asked_usd for p in by), Decimal(0))
    return {
        "cost_usd": cost,
        "at_asked_usd": baseline,
        "saved_usd": baseline - cost,
        "by": [{**asdict(p), "saved_usd": p.saved_usd} for p in by],
    }


def print_savings(report: dict[str, Any]) -> None:
    rows = [
        (
            p["asked"],
            p["served"],
            str(p["requests"]),
            usd(p["cost_usd"]),
            usd(p["at_asked_usd"]),
            usd(p["saved_usd"]),
        )
        for p in report["by"]
    ]
    table(("asked for", "served by", "requests", "cost", "at asked", "saved"), rows)
    baseline = report["at_asked_usd"]
    share = f" ({report['saved_usd'] / baseline:.0%})" if baseline else ""
    print(
        f"spent {usd(report['cost_usd'])}; everything at the model asked for: {usd(baseline)}; "
        f"saved {usd(report['saved_usd'])}{share}"
    )
