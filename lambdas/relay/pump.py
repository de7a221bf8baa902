"""A blocking iterator read to its end by one worker thread, its items handed to the event loop.

A provider stream read with one thread-pool hop per event (`iterate_in_threadpool`) spent more
of its CPU on hops than on the events. One thread per stream hands each event to the loop as
soon as it is parsed; events parsed together (one network read holds several) reach the loop
together, so `sse.coalesced` can write them in one go. The thread is not taken from the shared
pool: a stream holds it for its whole length, and the pool's 40 tokens would cap concurrent
streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def pumped(items: Iterator[T]) -> AsyncIterator[T]:
    """`items` as an async iterator; what it raises is raised here. Closing the blocking source
    (the stream's `close`) is the caller's job: it also ends the thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def hand(item: object) -> None:
        # A RuntimeError: the loop is gone (shut down mid-stream) and nobody is listening.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read() -> None:
        try:
            for item in items:
                hand(item)
        except BaseException as error:  # re-raised on the loop, in the reader
            hand(error)
        else:
            hand(_END)

    threading.Thread(target=read, name="relay-stream", daemon=True).start()
    while True:
        item = await queue.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]
