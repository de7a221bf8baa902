"""The one small protocol every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

Event = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One model invocation: the provider's model id and the Anthropic-shaped body."""

    model_id: str
    body: dict[str, Any]
    # Used where the provider counts tokens against the foundation model, not a profile.
    count_model_id: str = ""


@dataclass
class Metrics:
    """What the provider reported about one invocation, filled in as it completes."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    first_byte_ms: int | None = None
    provider_request_id: str | None = None


@dataclass
class Stream:
    """An open stream of Anthropic events; `metrics` is complete once `events` is exhausted."""

    events: Iterator[Event]
    metrics: Metrics = field(default_factory=Metrics)
    # Releases the provider connection when the client goes away mid-stream.
    close: Callable[[], None] = lambda: None


class Backend(Protocol):
    """A provider that serves Anthropic Messages. Failures raise `relay.errors.ApiError`."""

    name: str

    def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]: ...

    def stream(self, call: Call) -> Stream:
        """Start streaming. Errors before the first event raise here; later ones from `events`."""
        ...

    def count_tokens(self, call: Call) -> int: ...
