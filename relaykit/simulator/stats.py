"""Counts of the requests that reached the simulator, so tests can assert what got through."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any


class Stats:
    """Requests by operation and model id (as sent), and the errors returned by code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._errors: Counter[str] = Counter()

    def record_request(self, operation: str, model_id: str) -> None:
        with self._lock:
            self._requests[operation][model_id] += 1

    def record_error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    def snapshot(self) -> dict[str, Any]:
        """`{"total": n, "operations": {op: {"total": n, "models": {id: n}}}, "errors": {...}}`."""
        with self._lock:
            operations = {
                op: {"total": sum(models.values()), "models": dict(models)}
                for op, models in self._requests.items()
            }
            return {
                "total": sum(op["total"] for op in operations.values()),
                "operations": operations,
                "errors": dict(self._errors),
            }
