"""Latency failover and hedging: when a route is slow to start, not only when it fails.

- `RELAY_TTFB_DEADLINE_MS`: a stream whose first event takes longer than this on a route is
  cancelled and the next route of its chain tried (never on the chain's last route, which has
  nowhere to go). A number for every route, or a JSON object from route label pattern (`*`
  matches any text; labels are `bedrock/<region>` and `vertex/<region>`) to milliseconds, the
  first match winning: `{"bedrock/us-east-1": 3000, "*": 8000}`.
- `RELAY_HEDGE`: `{"percentile": 95, "max_input_tokens": 8000, "min_samples": 20}`. A stream
  whose first event is later than that percentile of its route's recent times to first byte
  gets one hedged request on the next route (the same route on a chain of one); the first to
  start streaming wins, the other is cancelled and metered for what it used. Only requests
  estimated under `max_input_tokens` are hedged, and never more than once, so a hedge costs at
  most one extra prompt's input; `Hedges` and `HedgeWins` count them.
Non-streamed requests are neither cut nor hedged: their first byte is the whole answer.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay.aliases import matches


class LatencyConfigError(ValueError):
    """RELAY_TTFB_DEADLINE_MS or RELAY_HEDGE is invalid; the message names it and the fix."""


class HedgePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    percentile: float = Field(default=95, gt=0, lt=100)
    # Requests estimated above this many input tokens are never hedged (a hedge re-sends the
    # prompt, and Bedrock bills a cancelled request's input).
    max_input_tokens: int = Field(default=8_000, ge=1)
    # No hedge until a route has this many recent samples to take a percentile of.
    min_samples: int = Field(default=20, ge=1)
    window: int = Field(default=200, ge=1)


_DEADLINE_HELP = (
    "RELAY_TTFB_DEADLINE_MS is milliseconds (e.g. 5000) or a JSON object from route label "
    'pattern to milliseconds, e.g. {"bedrock/us-east-1": 3000, "*": 8000}'
)


def parse_deadlines(raw: str) -> tuple[tuple[str, float], ...]:
    """(route label pattern, seconds) pairs, in order."""
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except ValueError:
        raise LatencyConfigError(_DEADLINE_HELP) from None
    pairs = data.items() if isinstance(data, dict) else [("*", data)]
    deadlines = []
    for pattern, ms in pairs:
        if isinstance(ms, bool) or not isinstance(ms, int | float) or not ms > 0:
            raise LatencyConfigError(f"{_DEADLINE_HELP}; {ms!r} is not a positive number")
        deadlines.append((str(pattern), ms / 1000))
    return tuple(deadlines)


def parse_hedge(raw: str) -> HedgePolicy | None:
    if not raw.strip():
        return None
    try:
        return HedgePolicy.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise LatencyConfigError(
            f"RELAY_HEDGE{'.' + where if where else ''}: {first['msg']}; it is a JSON object like "
            '{"percentile": 95, "max_input_tokens": 8000, "min_samples": 20}'
        ) from None


def deadline_for(deadlines: tuple[tuple[str, float], ...], label: str) -> float | None:
    """The first byte deadline (seconds) of a route, by the first pattern that matches its
    label: the route's (`bedrock/us-east-1`) or the route's and model id's (its breaker's,
    `bedrock/us-east-1/global.anthropic.claude-haiku-4-5-20251001-v1:0`)."""
    return next(
        (
            seconds
            for pattern, seconds in deadlines
            if matches(pattern, label) or matches(f"{pattern}/*", label)
        ),
        None,
    )


class FirstByteTimes:
    """Recent times to first byte per route (breaker label), for the hedge's percentile."""

    def __init__(self, policy: HedgePolicy) -> None:
        self._policy = policy
        self._samples: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def observe(self, label: str, seconds: float) -> None:
        with self._lock:
            samples = self._samples.setdefault(label, deque(maxlen=self._policy.window))
            samples.append(seconds)

    def hedge_after(self, label: str) -> float | None:
        """Seconds after which to hedge a request on this route, or None (too few samples)."""
        with self._lock:
            samples = sorted(self._samples.get(label, ()))
        if len(samples) < self._policy.min_samples:
            return None
        rank = math.ceil(self._policy.percentile / 100 * len(samples)) - 1
        return samples[max(0, rank)]


def latency_counts(slow: int, hedged: bool, hedge_won: bool) -> Mapping[str, int]:
    return {"SlowFailovers": slow, "Hedges": int(hedged), "HedgeWins": int(hedge_won)}
