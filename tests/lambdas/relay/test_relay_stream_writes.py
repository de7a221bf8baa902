"""Streams are written in batches of what is ready, never waiting for more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from relay.sse import coalesced


async def ready(chunks: list[bytes], gate: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    """`chunks` all at once, then (with a gate) one more once the gate opens."""
    for chunk in chunks:
        yield chunk
    if gate is not None:
        await gate.wait()
        yield b"late"


async def test_chunks_ready_together_are_written_together():
    writes = [w async for w in coalesced(ready([b"a", b"b", b"c"]))]

    assert writes == [b"abc"]


async def test_the_first_chunk_is_written_without_waiting_for_the_next():
    gate = asyncio.Event()
    writes = coalesced(ready([b"first"], gate))

    first = await asyncio.wait_for(anext(writes), timeout=5)
    gate.set()
    rest = [w async for w in writes]

    assert first == b"first"
    assert rest == [b"late"]


async def test_an_error_of_the_stream_reaches_the_writer_after_what_came_before():
    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("upstream")

    writes = coalesced(failing())

    assert await anext(writes) == b"a"
    with pytest.raises(ValueError, match="upstream"):
        await anext(writes)


async def test_a_writer_that_goes_away_still_lets_the_stream_clean_up():
    cleaned = asyncio.Event()
    gate = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            await gate.wait()
            yield b"never"
        finally:
            cleaned.set()

    writes = coalesced(source())
    assert await anext(writes) == b"a"
    await writes.aclose()  # the client left

    await asyncio.wait_for(cleaned.wait(), timeout=5)
