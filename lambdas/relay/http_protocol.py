"""uvicorn's httptools protocol with the relay's limits, for running the relay off Lambda:

    uvicorn relay.app:create_app --factory --http relay.http_protocol:RelayHttpProtocol

- header count and size are counted as they arrive, so 10 MB of headers is refused at the
  limit (431) instead of being buffered first (the app checks again, under any server);
- a client must finish its request head within RELAY_HEADER_TIMEOUT seconds of connecting (or
  of its previous response), else 408: slow or idle clients cannot pile up to the fd limit;
- what uvicorn answers itself (malformed HTTP) is JSON in Anthropic's error shape, not text.

Limits come from the same environment variables as the app's (`relay.settings`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from relay.errors import ApiError, ErrorType
from relay.settings import Settings, env_number

_MAX_HEADERS = int(env_number(os.environ, "RELAY_MAX_HEADERS", Settings.max_headers))
_MAX_HEADER_BYTES = int(env_number(os.environ, "RELAY_MAX_HEADER_BYTES", Settings.max_header_bytes))
# Time to send a request line and headers; bodies have their own limit (RELAY_BODY_TIMEOUT).
HEADER_TIMEOUT = env_number(os.environ, "RELAY_HEADER_TIMEOUT", 10.0)


class _HeadersTooLarge(Exception):
    pass


class RelayHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_count = 0
        self._header_bytes = 0
        self._refusal: ApiError | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._header_count = self._header_bytes = 0
        if not self.transport.is_closing():
            self._start_head_timer()  # the next request on this connection

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_count > _MAX_HEADERS or self._header_bytes > _MAX_HEADER_BYTES:
            self._refusal = ApiError(
                ErrorType.INVALID_REQUEST,
                f"The request headers exceed the relay's limits ({_MAX_HEADERS} headers, "
                f"{_MAX_HEADER_BYTES} bytes in all).",
                "headers_too_large",
                http_status=431,
            )
            # httptools turns this into HttpParserError: uvicorn answers via send_400_response.
            raise _HeadersTooLarge

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served; the app bounds its body
        if self._header_count or self._header_bytes:
            self._answer(
                ApiError(
                    ErrorType.INVALID_REQUEST,
                    f"The request head did not arrive within {HEADER_TIMEOUT:g} seconds.",
                    "header_timeout",
                    http_status=408,
                )
            )
        else:
            self.transport.close()  # an idle connection: nothing to answer

    def send_400_response(self, msg: str) -> None:
        refusal, self._refusal = self._refusal, None
        self._answer(refusal or ApiError(ErrorType.INVALID_REQUEST, msg, "bad_http"))

    def _answer(self, error: ApiError) -> None:
        """An error in Anthropic's shape, then the connection closed (uvicorn's own way)."""
        body = error.body()
        content = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
