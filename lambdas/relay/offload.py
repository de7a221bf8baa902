"""Run a collaborator's call in a worker thread only when it blocks (network I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


class MayBlock(Protocol):
    # True for stores that call the network (DynamoDB); in-memory ones answer on the event loop,
    # saving a thread hop per request.
    blocking: bool


async def call(owner: MayBlock, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if owner.blocking:
        return await run_in_threadpool(function, *args, **kwargs)
    return function(*args, **kwargs)
