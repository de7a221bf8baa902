"""Streams are written in batches of what is ready, never waiting for more, the last batch
ending the body in the same write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message

from relay.sse import EventStreamResponse, batches


async def ready(chunks: list[bytes], gate: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    """`chunks` all at once, then (with a gate) one more once the gate opens."""
    for chunk in chunks:
        yield chunk
    if gate is not None:
        await gate.wait()
        yield b"late"


async def test_chunks_ready_together_are_written_together():
    writes = [w async for w in batches(ready([b"a", b"b", b"c"]))]

    assert writes == [(b"abc", True)]


async def test_the_first_chunk_is_written_without_waiting_for_the_next():
    gate = asyncio.Event()
    writes = batches(ready([b"first"], gate))

    first = await asyncio.wait_for(anext(writes), timeout=5)
    gate.set()
    rest = [w async for w in writes]

    assert first == (b"first", False)
    assert b"".join(data for data, _ in rest) == b"late"
    assert [last for _, last in rest][-1] is True


async def test_an_error_of_the_stream_reaches_the_writer_after_what_came_before():
    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("upstream")

    writes = batches(failing())

    assert await anext(writes) == (b"a", False)
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

    writes = batches(source())
    assert await anext(writes) == (b"a", False)
    await writes.aclose()  # the client left

    await asyncio.wait_for(cleaned.wait(), timeout=5)


async def test_the_last_batch_ends_the_body_in_the_same_write():
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    response = EventStreamResponse(ready([b"a", b"b"]), {"x-relay-backend": "bedrock"})
    scope = {"type": "http", "asgi": {"spec_version": "2.3"}}
    await response(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    assert sent[1:] == [{"type": "http.response.body", "body": b"ab", "more_body": False}]
