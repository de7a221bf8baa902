"""The one small protocol every backend implements, asynchronous, and an adapter that runs a
blocking backend (Vertex AI's urllib3 client) on worker threads behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

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


async def _nothing() -> None:
    return None


@dataclass
class Stream:
    """An open stream of Anthropic events; `metrics` is complete once `events` is exhausted."""

    events: AsyncIterator[Event]
    metrics: Metrics = field(default_factory=Metrics)
    # Releases the provider connection when the client goes away mid-stream.
    close: Callable[[], Awaitable[None]] = _nothing


class Backend(Protocol):
    """A provider that serves Anthropic Messages. Failures raise `relay.errors.ApiError`."""

    name: str

    async def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]: ...

    async def stream(self, call: Call) -> Stream:
        """Start streaming. Errors before the first event raise here; later ones from `events`."""
        ...

    async def count_tokens(self, call: Call) -> int: ...


@dataclass
class BlockingStream:
    """`Stream` of a blocking backend: a plain iterator and a plain close."""

    events: Iterator[Event]
    metrics: Metrics = field(default_factory=Metrics)
    close: Callable[[], None] = lambda: None


class BlockingBackend(Protocol):
    name: str

    def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]: ...

    def stream(self, call: Call) -> BlockingStream: ...

    def count_tokens(self, call: Call) -> int: ...


class OnThreads:
    """A blocking backend behind the async protocol: each call and each stream read in a worker
    thread of the relay's thread limiter (`RELAY_THREADS`)."""

    def __init__(self, backend: BlockingBackend) -> None:
        self._backend = backend
        self.name = backend.name

    async def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]:
        return await run_in_threadpool(self._backend.invoke, call)

    async def stream(self, call: Call) -> Stream:
        blocking = await run_in_threadpool(self._backend.stream, call)

        async def close() -> None:
            await run_in_threadpool(blocking.close)

        return Stream(iterate_in_threadpool(blocking.events), blocking.metrics, close)

    async def count_tokens(self, call: Call) -> int:
        return await run_in_threadpool(self._backend.count_tokens, call)
