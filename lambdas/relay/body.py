"""Reading a request's JSON body within limits: size, time, UTF-8, nesting depth, no lone
surrogates. Every refusal is an ApiError in the API's shape; nothing reaches a backend.

Large bodies are decoded in a worker thread: `json.loads` of 30 MB holds the event loop (and every
other request, /health included) for seconds.
"""

from __future__ import annotations

import json
import re

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from relay.errors import ApiError, ErrorType, invalid_request

# Deeper than any real request (tool schemas nest a few dozen levels at most), far below the
# interpreter's recursion limit that validation and pricing would otherwise hit.
MAX_DEPTH = 64
# Below this size a thread hop costs more than decoding on the loop.
_INLINE_BYTES = 256 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


async def read_json(request: Request, max_bytes: int, timeout: float) -> object:
    """The decoded body, or an ApiError: 413, 408 for a client too slow, 400 for the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
    except TimeoutError:
        raise ApiError(
            ErrorType.INVALID_REQUEST,
            f"The request body did not arrive within {timeout:g} seconds.",
            "body_timeout",
            # The rest of the body may still come: the connection cannot carry another request.
            headers={"connection": "close"},
            http_status=408,
        ) from None
    except ClientDisconnect:
        # Nobody is left to answer; the access log line records it (no traceback).
        raise ApiError(
            ErrorType.INVALID_REQUEST,
            "The client went away before sending its whole body.",
            "client_disconnected",
        ) from None
    if len(body) <= _INLINE_BYTES:
        return decode(bytes(body))
    return await run_in_threadpool(decode, bytes(body))


def decode(raw: bytes) -> object:
    try:
        # Strict UTF-8 (json.loads alone lets encoded surrogates through).
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request("The request body is not valid UTF-8.", "bad_utf8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise invalid_request("The request body is not valid JSON.", "bad_json") from None
    _check(value)
    return value


def _check(value: object) -> None:
    """Nesting depth and lone surrogates, walked without recursion."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise _surrogate()
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                for key, child in item.items():
                    if not key.isascii() and _SURROGATE.search(key):
                        raise _surrogate()
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _too_deep() -> ApiError:
    return invalid_request(f"The request body nests deeper than {MAX_DEPTH} levels.", "too_deep")


def _surrogate() -> ApiError:
    return invalid_request(
        "The request body contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not "
        "valid Unicode text.",
        "lone_surrogate",
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        ErrorType.REQUEST_TOO_LARGE,
        f"Request exceeds the maximum allowed number of bytes ({limit}).",
        "too_large",
    )
