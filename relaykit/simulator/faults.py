"""Faults: injected on demand for the next requests, or drawn at the configured rates.

A fault named in `inject` waits in a queue and fails the next model request it applies to: an
up-front fault applies to any operation, a `mid_stream*` fault only to a stream (it waits for
one). With the queue empty, the configured rates decide, from a RNG seeded by the config.
A delay queued with `delay` holds the next model request that long before it answers (on top
of the configured latency): one slow request among fast ones, as a slow route shows. Queued for
a model id, it waits for a request to that id (so a route's slowness does not depend on which
of two concurrent requests arrives first).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.errors import ErrorType


@dataclass(frozen=True)
class Fault:
    name: str
    error: ErrorType
    mid_stream: bool = False


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("throttling", ErrorType.THROTTLING),
        Fault("internal", ErrorType.INTERNAL_SERVER),
        Fault("unavailable", ErrorType.SERVICE_UNAVAILABLE),
        Fault("timeout", ErrorType.MODEL_TIMEOUT),
        Fault("model_not_ready", ErrorType.MODEL_NOT_READY),
        Fault("model_error", ErrorType.MODEL_ERROR),
        Fault("access_denied", ErrorType.ACCESS_DENIED),
        Fault("unauthenticated", ErrorType.UNRECOGNIZED_CLIENT),
        Fault("not_found", ErrorType.RESOURCE_NOT_FOUND),
        Fault("quota", ErrorType.SERVICE_QUOTA_EXCEEDED),
        Fault("validation", ErrorType.VALIDATION),
        Fault("mid_stream", ErrorType.MODEL_STREAM_ERROR, mid_stream=True),
        Fault("mid_stream_throttling", ErrorType.THROTTLING, mid_stream=True),
        Fault("mid_stream_internal", ErrorType.INTERNAL_SERVER, mid_stream=True),
        Fault("mid_stream_unavailable", ErrorType.SERVICE_UNAVAILABLE, mid_stream=True),
        Fault("mid_stream_timeout", ErrorType.MODEL_TIMEOUT, mid_stream=True),
        Fault("mid_stream_validation", ErrorType.VALIDATION, mid_stream=True),
    )
}


@dataclass(frozen=True)
class Drawn:
    """The faults one request meets: one before it starts, or one in the middle of its stream."""

    upfront: ErrorType | None = None
    mid_stream: ErrorType | None = None
    # Seconds to wait before answering, beyond the configured latency.
    delay: float = 0.0


class FaultPlan:
    """The queue of injected faults and the seeded draws; safe to use from several threads."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._delays: dict[str, deque[float]] = {}
        # Repeatable faults, not secrets: a seeded PRNG is the point.
        self._rng = random.Random(config.seed)  # noqa: S311

    def inject(self, names: Iterable[str]) -> None:
        """Queue faults by name; raises ValueError naming the first unknown one."""
        faults = []
        for name in names:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
            faults.append(FAULTS[name])
        with self._lock:
            self._queue.extend(faults)

    def delay(self, seconds: Iterable[float], model_id: str = "") -> None:
        """Queue delays, one per coming model request (to `model_id`, or any with ""); raises
        ValueError on a negative one."""
        delays = list(seconds)
        if any(not isinstance(s, int | float) or s < 0 for s in delays):
            raise ValueError(f"delays are seconds >= 0, got {delays}")
        with self._lock:
            self._delays.setdefault(model_id, deque()).extend(float(s) for s in delays)

    def pending_delays(self) -> list[float]:
        with self._lock:
            return [s for queue in self._delays.values() for s in queue]

    def pending(self) -> list[str]:
        with self._lock:
            return [fault.name for fault in self._queue]

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._delays.clear()
            self._rng = random.Random(self._config.seed)  # noqa: S311

    def draw(self, *, streaming: bool, model_id: str = "") -> Drawn:
        """The faults of the next request (streaming: an InvokeModelWithResponseStream)."""
        with self._lock:
            queue = self._delays.get(model_id) or self._delays.get("")
            delay = queue.popleft() if queue else 0.0
            queued = next((f for f in self._queue if streaming or not f.mid_stream), None)
            if queued is not None:
                self._queue.remove(queued)
                if queued.mid_stream:
                    return Drawn(mid_stream=queued.error, delay=delay)
                return Drawn(queued.error, delay=delay)
            return dataclasses.replace(self._draw_at_rates(streaming), delay=delay)

    def _draw_at_rates(self, streaming: bool) -> Drawn:
        config = self._config
        roll = self._rng.random()
        for rate, error in (
            (config.throttle_rate, ErrorType.THROTTLING),
            (config.server_error_rate, ErrorType.INTERNAL_SERVER),
            (config.timeout_rate, ErrorType.MODEL_TIMEOUT),
        ):
            if roll < rate:
                return Drawn(error)
            roll -= rate
        if streaming and self._rng.random() < config.mid_stream_error_rate:
            return Drawn(mid_stream=ErrorType.MODEL_STREAM_ERROR)
        return Drawn()
