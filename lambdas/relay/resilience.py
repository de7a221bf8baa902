"""Retries with backoff, failover along a chain of routes, and a circuit breaker per route;
for streams also failover when a route is slow to start, and one hedged request (latency.py).

Pure policy, on the event loop: the calls it makes are the backends' coroutines.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import anyio

from relay import offload
from relay.errors import ApiError, ErrorType
from relay.latency import FirstByteTimes, HedgePolicy, deadline_for, latency_counts

# Provider-side failures: worth another try on the same route (the provider may answer next
# time), and the only errors a breaker counts.
RETRYABLE = frozenset(
    {ErrorType.RATE_LIMIT, ErrorType.API, ErrorType.OVERLOADED, ErrorType.TIMEOUT}
)
# Worth another route, not another try: this route cannot serve the model (access, region).
# Not a breaker failure: the provider answered, and other models on the route are unaffected.
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

    def abandon(self) -> None:
        """A trial that ended without a verdict (the caller went away): the next one may try."""
        with self._lock:
            self._trial = False

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
class Loser(Generic[T, R]):
    """The hedged attempt that lost: the route it was on, and its value if it finished too
    (the caller closes it); None when it was cancelled before its first byte."""

    route: R
    value: T | None = None


@dataclass
class Outcome(Generic[T, R]):
    """What served a request, after how many attempts."""

    value: T
    route: R
    attempts: int
    failed_over: bool
    # Routes left because their first byte came later than their deadline.
    slow: int = 0
    hedged: bool = False
    # The hedge, not the first request, served.
    hedge_won: bool = False
    loser: Loser[T, R] | None = None

    def latency_counts(self) -> Mapping[str, int]:
        return latency_counts(self.slow, self.hedged, self.hedge_won)


class _TooSlow(Exception):
    """A route's first byte came later than its deadline."""


@dataclass
class Resilience:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    board: BreakerBoard | None = None
    # Route label pattern -> seconds to a stream's first byte (latency.parse_deadlines).
    ttfb_deadlines: tuple[tuple[str, float], ...] = ()
    hedge: HedgePolicy | None = None
    _first_bytes: FirstByteTimes | None = None
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def breaker(self, label: str) -> CircuitBreaker:
        with self._lock:
            if label not in self._breakers:
                self._breakers[label] = CircuitBreaker(
                    self.breaker_threshold, self.breaker_cooldown, self.clock
                )
            return self._breakers[label]

    def __post_init__(self) -> None:
        if self.hedge is not None:
            self._first_bytes = FirstByteTimes(self.hedge)

    async def run(
        self,
        routes: tuple[R, ...],
        label: Callable[[R], str],
        call: Callable[[R], Awaitable[T]],
        *,
        first_byte: bool = False,
        tried: list[R] | None = None,
    ) -> Outcome[T, R]:
        """Call along `routes`, retrying and failing over; raise the last error if all fail.

        `label` names a route's breaker (route and model). A route whose breaker is open is
        skipped, unless it is the last one left. Whatever a call raises, its breaker hears of
        it, so a half-open trial always ends. With `first_byte` (a call that returns at a
        stream's first event) a route that misses its first byte deadline is left for the next,
        and the times are kept for hedging. `tried` collects the routes called, in order.
        """
        deadline = self.clock() + self.policy.deadline
        last: ApiError | None = None
        attempts = slow = 0
        for index, route in enumerate(routes):
            name = label(route)
            breaker = self.breaker(name)
            last_route = index == len(routes) - 1
            if not last_route and not await self._available(name, breaker):
                continue
            cutoff = deadline_for(self.ttfb_deadlines, name) if first_byte else None
            for attempt in range(self.policy.attempts):
                attempts += 1
                if tried is not None:
                    tried.append(route)
                try:
                    value = await self._attempt(route, name, call, first_byte, cutoff, last_route)
                except _TooSlow:
                    # Not the route failing (it may answer yet), only too late for this request.
                    breaker.abandon()
                    slow += 1
                    break
                except ApiError as error:
                    last = error
                    if error.type not in RETRYABLE:
                        # The provider answered (a refusal): the route is up.
                        breaker.success()
                        if error.type not in FAILOVER_ONLY:
                            raise
                        break
                    await self._failed(name, breaker)
                    if attempt + 1 == self.policy.attempts:
                        break
                    delay = self.policy.backoff(attempt, _retry_after(error), self.rng)
                    if self.clock() + delay > deadline:
                        raise
                    await self.sleep(delay)
                except Exception:
                    # Unforeseen (a transport error no backend mapped, a bug): counted as the
                    # route failing, so a half-open trial cannot stay in flight for good.
                    await self._failed(name, breaker)
                    raise
                except BaseException:
                    breaker.abandon()  # cancelled: the client left, the route said nothing
                    raise
                else:
                    breaker.success()
                    return Outcome(value, route, attempts, failed_over=index > 0, slow=slow)
        # The last route is always tried and never cut, so it returned or raised.
        assert last is not None, "no route was tried"
        raise last

    async def _attempt(
        self,
        route: R,
        name: str,
        call: Callable[[R], Awaitable[T]],
        first_byte: bool,
        cutoff: float | None,
        last_route: bool,
    ) -> T:
        started = time.monotonic()
        if cutoff is None or last_route:
            value = await call(route)
        else:
            with anyio.move_on_after(cutoff) as scope:
                value = await call(route)
            if scope.cancelled_caught:
                raise _TooSlow
        if first_byte and self._first_bytes is not None:
            self._first_bytes.observe(name, time.monotonic() - started)
        return value

    async def run_hedged(
        self,
        routes: tuple[R, ...],
        label: Callable[[R], str],
        call: Callable[[R], Awaitable[T]],
        size: Callable[[], int],
    ) -> Outcome[T, R]:
        """`run` for a stream, with at most one hedged request on the next route when the
        first byte is later than the hedge percentile and the request (`size`, its estimated
        input tokens) is small enough. The first to start streaming wins; the other is
        cancelled and returned as the outcome's `loser` for the caller to meter."""
        hedge, times = self.hedge, self._first_bytes
        after = times.hedge_after(label(routes[0])) if times is not None else None
        if hedge is None or after is None or size() > hedge.max_input_tokens:
            return await self.run(routes, label, call, first_byte=True)
        race = _Race[T, R]()
        chains = (routes, routes[1:] or routes)
        scopes = (anyio.CancelScope(), anyio.CancelScope())

        async def attempt(which: int) -> None:
            with scopes[which]:
                if which == 1:
                    await anyio.sleep(after)
                    race.hedged = True
                try:
                    outcome = await self.run(
                        chains[which], label, call, first_byte=True, tried=race.tried[which]
                    )
                except Exception as error:
                    race.errors[which] = error
                    if which == 0 and not race.hedged:
                        scopes[1].cancel()  # failed on its own before any hedge: no hedge
                    return
                if race.winner is None:
                    race.winner = which, outcome
                    scopes[1 - which].cancel()
                else:
                    race.late = outcome

        async with anyio.create_task_group() as group:
            group.start_soon(attempt, 0)
            group.start_soon(attempt, 1)
        if race.winner is None:
            raise race.errors.get(0) or race.errors[1]
        which, outcome = race.winner
        outcome.hedged, outcome.hedge_won = race.hedged, which == 1
        lost = race.tried[1 - which]
        # A loser that failed on its own reached no model worth metering.
        if race.hedged and lost and 1 - which not in race.errors:
            late = race.late.value if race.late is not None else None
            outcome.loser = Loser(lost[-1], late)
        return outcome

    async def _failed(self, name: str, breaker: CircuitBreaker) -> None:
        if breaker.failure() and self.board is not None:
            board = self.board
            await offload.call(board, board.trip, name, self.breaker_cooldown)

    async def _available(self, name: str, breaker: CircuitBreaker) -> bool:
        board = self.board
        if board is not None and await offload.call(board, board.is_open, name):
            return False
        return breaker.allow()


class _Race(Generic[T, R]):
    """The state of one hedged request: who won, who lost, what each tried."""

    def __init__(self) -> None:
        self.hedged = False
        self.winner: tuple[int, Outcome[T, R]] | None = None
        self.late: Outcome[T, R] | None = None
        self.errors: dict[int, Exception] = {}
        self.tried: tuple[list[R], list[R]] = ([], [])


def _retry_after(error: ApiError) -> float | None:
    value = error.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None
