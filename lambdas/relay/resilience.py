"""Retries with backoff, failover along a chain of routes, and a circuit breaker per route.

Pure policy, on the event loop: the calls it makes are the backends' coroutines.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import anyio

from relay import offload
from relay.errors import ApiError, ErrorType

# Worth another try on the same route: the provider may answer next time.
RETRYABLE = frozenset(
    {ErrorType.RATE_LIMIT, ErrorType.API, ErrorType.OVERLOADED, ErrorType.TIMEOUT}
)
# Worth another route, not another try: this route cannot serve the model (access, region).
FAILOVER_ONLY = frozenset({ErrorType.PERMISSION, ErrorType.NOT_FOUND})

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` per route; `deadline` bounds the time spent starting attempts (not a
    generation in progress)."""

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    deadline: float = 30.0

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential backoff with full jitter, but never sooner than the provider asked."""
        jitter = rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        return max(jitter, retry_after or 0.0)


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` seconds lets one trial
    through (half-open), closing again on its success."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self._cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self._cooldown or self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def failure(self) -> bool:
        """Count a failure; True when this one opened the breaker."""
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self._threshold:
                opened = self._opened_at is None or self._trial
                self._opened_at, self._trial = self._clock(), False
                return opened
            return False


class BreakerBoard(Protocol):
    """Breaker state shared between relay instances (DynamoDB in production): an instance that
    opens a breaker posts it, so the others skip the route too instead of each learning it."""

    # True when its calls block on the network (they then run in a worker thread).
    blocking: bool

    def is_open(self, label: str) -> bool: ...

    def trip(self, label: str, seconds: float) -> None: ...


@dataclass
class Outcome(Generic[T, R]):
    """What served a request, after how many attempts."""

    value: T
    route: R
    attempts: int
    failed_over: bool


@dataclass
class Resilience:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    board: BreakerBoard | None = None
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def breaker(self, label: str) -> CircuitBreaker:
        with self._lock:
            if label not in self._breakers:
                self._breakers[label] = CircuitBreaker(
                    self.breaker_threshold, self.breaker_cooldown, self.clock
                )
            return self._breakers[label]

    async def run(
        self, routes: tuple[R, ...], label: Callable[[R], str], call: Callable[[R], Awaitable[T]]
    ) -> Outcome[T, R]:
        """Call along `routes`, retrying and failing over; raise the last error if all fail.

        A route whose breaker is open is skipped, unless it is the last one left.
        """
        deadline = self.clock() + self.policy.deadline
        last: ApiError | None = None
        attempts = 0
        for index, route in enumerate(routes):
            name = label(route)
            breaker = self.breaker(name)
            last_route = index == len(routes) - 1
            if not last_route and not await self._available(name, breaker):
                continue
            for attempt in range(self.policy.attempts):
                attempts += 1
                try:
                    value = await call(route)
                except ApiError as error:
                    last = error
                    if error.type not in RETRYABLE | FAILOVER_ONLY:
                        raise
                    if breaker.failure() and self.board is not None:
                        board = self.board
                        await offload.call(board, board.trip, name, self.breaker_cooldown)
                    if error.type in FAILOVER_ONLY or attempt + 1 == self.policy.attempts:
                        break
                    delay = self.policy.backoff(attempt, _retry_after(error), self.rng)
                    if self.clock() + delay > deadline:
                        raise
                    await self.sleep(delay)
                else:
                    breaker.success()
                    return Outcome(value, route, attempts, failed_over=index > 0)
        assert last is not None, "no route was tried"
        raise last

    async def _available(self, name: str, breaker: CircuitBreaker) -> bool:
        board = self.board
        if board is not None and await offload.call(board, board.is_open, name):
            return False
        return breaker.allow()


def _retry_after(error: ApiError) -> float | None:
    value = error.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None
