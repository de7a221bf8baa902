"""The state of one simulator: its config, faults, stats and prompt cache, and the core call."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import threading
from typing import Any

from relaykit.simulator.batch import BatchJobs
from relaykit.simulator.cache import PromptCache
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.faults import Drawn, FaultPlan
from relaykit.simulator.messages import message_object
from relaykit.simulator.models import ModelResolver
from relaykit.simulator.replies import build_reply, request_digest
from relaykit.simulator.request import InvokeRequest
from relaykit.simulator.stats import Stats
from relaykit.simulator.tokens import segments


class SimulatorState:
    """Everything a simulator remembers between requests; `reset` forgets it all."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.models = ModelResolver()
        self.faults = FaultPlan(config)
        self.cache = PromptCache(config.min_cacheable_tokens)
        self.stats = Stats()
        self.batches = BatchJobs(config, self)
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.faults.reset()
        self.stats.reset()
        self.cache.clear()
        self.batches.reset()
        with self._lock:
            self._serial = itertools.count(1)

    async def admit(self, operation: str, model_id: str, *, streaming: bool) -> Drawn:
        """Count a model request, draw the faults it meets, and wait the configured latency
        (and any delay queued for it).

        Every provider's paths start here, so stats and the fault queue are shared.
        """
        self.stats.record_request(operation, model_id)
        drawn = self.faults.draw(streaming=streaming, model_id=model_id)
        if self.config.latency or drawn.delay:
            await asyncio.sleep(self.config.latency + drawn.delay)
        return drawn

    def _message_id(self, digest: str, tag: str) -> str:
        # Unique per response, yet repeatable across runs: the request digest and a serial.
        with self._lock:
            serial = next(self._serial)
        raw = hashlib.sha256(f"{digest}:{serial}".encode()).digest()[:18]
        return f"msg_{tag}_01" + base64.b32encode(raw).decode().rstrip("=")[:22]

    def respond(self, request: InvokeRequest) -> dict[str, Any]:
        """The Message answering `request`, with its usage split by the prompt cache."""
        reply = build_reply(request)
        cache = self.cache.account(request.model.bedrock_id, segments(request.body))
        message_id = self._message_id(request_digest(request), request.dialect.tag)
        return message_object(message_id, request.model, reply, cache)
