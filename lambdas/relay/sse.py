"""Server-Sent Events as the Anthropic API writes them: `event: <type>`, then `data: <json>`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Send

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def compact_json(value: object) -> bytes:
    """UTF-8 JSON without spaces. A lone surrogate (an unpaired \\ud83d from upstream) has no
    UTF-8 form, so only then is non-ASCII written as \\u escapes, which carry it intact."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def encode(event: dict[str, Any]) -> bytes:
    """One event; its `type` names it, as in every Anthropic stream event."""
    kind = str(event["type"]).encode()
    return b"event: " + kind + b"\ndata: " + compact_json(event) + b"\n\n"


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A whole stream; like Anthropic's, it pings once right after `message_start`."""
    async for event in events:
        yield encode(event)
        if event.get("type") == "message_start":
            yield PING


_readers: set[asyncio.Task[None]] = set()


async def batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[bytes, bool]]:
    """`chunks` joined into batches, each with whether it is the last: a task reads ahead, and
    each batch takes everything it has read so far. Every chunk of a stream cost one write (and
    one pass through the server's send path); events parsed from one provider read now share
    one. The first chunk is passed on as soon as it is read, so the time to first token is
    unchanged."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    # Cancelled the anyio way, so that the stream's shielded cleanup (metering) still runs.
    scope = anyio.CancelScope()

    async def read_ahead() -> None:
        with scope:
            try:
                async for chunk in chunks:
                    queue.put_nowait(chunk)
            except Exception as error:  # re-raised below, where the writer is
                queue.put_nowait(error)
            else:
                queue.put_nowait(None)

    reader = asyncio.create_task(read_ahead())
    # The loop holds tasks weakly: a reader cancelled with its writer must live on to finish.
    _readers.add(reader)
    reader.add_done_callback(_readers.discard)
    try:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            done = batch[-1] is None
            data = b"".join(c for c in batch if isinstance(c, bytes))
            if isinstance(batch[-1], BaseException):
                if data:
                    yield data, False
                raise batch[-1]
            yield data, done
            if done:
                return
    finally:
        # The writer is gone (the client left): stop reading. The stream's own cleanup (closing
        # the provider, metering) then runs in the reader, which is not awaited: the writer is
        # being cancelled itself.
        scope.cancel()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing


class EventStreamResponse(StreamingResponse):
    """A stream of server-sent events in batches (`batches`); the last batch ends the body in
    the same write, where Starlette's StreamingResponse writes one more, empty, chunk."""

    def __init__(self, chunks: AsyncIterator[bytes], headers: Mapping[str, str]) -> None:
        # Starlette's own disconnect handling stays: it runs `stream_response` below.
        super().__init__(
            _nothing(),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
        self._batches = batches(chunks)

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for data, last in self._batches:
            await send({"type": "http.response.body", "body": data, "more_body": not last})
