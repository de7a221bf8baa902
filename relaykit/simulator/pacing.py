"""Stream pacing shared by every provider's stream: the wait for the first token, the pace of
output tokens, and where an injected mid-stream fault cuts the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.errors import ErrorType
from relaykit.simulator.messages import stream_events


async def paced_events(
    config: SimulatorConfig, message: dict[str, Any], mid_stream: ErrorType | None
) -> AsyncIterator[dict[str, Any] | ErrorType]:
    """The Anthropic stream events of `message`, paced by `config`.

    With a `mid_stream` fault the stream breaks after its first delta (or before message_delta
    when there is none): the fault is yielded in place of the next event, and nothing follows.
    Each provider frames events and the fault its own way.
    """
    if config.time_to_first_token:
        await asyncio.sleep(config.time_to_first_token)
    deltas = 0
    for event in stream_events(message):
        kind = event.data["type"]
        if mid_stream is not None and (deltas or kind == "message_delta"):
            yield mid_stream
            return
        if event.tokens and config.tokens_per_second:
            await asyncio.sleep(event.tokens / config.tokens_per_second)
        deltas += kind == "content_block_delta"
        yield event.data
