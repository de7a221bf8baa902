"""Prompt caching, in memory: a cache_control prefix is written once and read after that.

A breakpoint caches the prefix of the input up to and including its block. A request reads the
longest of its breakpoint prefixes already cached, and writes the rest up to its last
breakpoint; the remaining tokens are plain input. TTLs are not simulated: entries live until
reset. The cache holds hashes only, never the prompt text.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from relaykit.simulator.tokens import Segment


@dataclass(frozen=True)
class CacheUsage:
    """How a request's input tokens split between plain input, cache writes and cache reads."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


class PromptCache:
    """The cached prefixes, per model, as hashes."""

    def __init__(self, min_tokens: int = 0) -> None:
        self._min_tokens = min_tokens
        self._prefixes: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def account(self, namespace: str, segments: Sequence[Segment]) -> CacheUsage:
        """Split the input of one request, and remember the prefixes it writes."""
        total = max(1, sum(segment.tokens for segment in segments))
        digest = hashlib.sha256()
        upto = 0
        breakpoints: list[tuple[str, int]] = []
        for segment in segments:
            digest.update(segment.key.encode())
            upto += segment.tokens
            if segment.breakpoint and upto >= max(1, self._min_tokens):
                breakpoints.append((digest.copy().hexdigest(), upto))
        if not breakpoints:
            return CacheUsage(total, 0, 0)
        with self._lock:
            read = max(
                (tokens for key, tokens in breakpoints if (namespace, key) in self._prefixes),
                default=0,
            )
            written = breakpoints[-1][1] - read
            self._prefixes.update((namespace, key) for key, _ in breakpoints)
        return CacheUsage(total - read - written, written, read)

    def clear(self) -> None:
        with self._lock:
            self._prefixes.clear()
