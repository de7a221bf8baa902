"""Keep-alive HTTP/1.1 connections to one service endpoint, on asyncio streams, parsed by h11.

Why not httpx (as before): profiled at 32 callers, httpx and httpcore took about half of the
relay's CPU per request, most of it in bookkeeping a relay never needs: cookies, auth and
redirect flows, a pool that re-checks every pooled connection's socket on each request, an anyio
cancel scope per read (bench/RESULTS.md). What remains is what a call to Bedrock needs: a pool
of idle connections per origin, TLS, a connect and a read timeout, streamed bodies, and every
transport failure as one of three exceptions. h11 (already shipped, as uvicorn's pure-Python
parser) parses the responses: no hand-made HTTP parsing.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import h11

_READ = 64 * 1024


class TransportError(Exception):
    """The connection broke, or the server spoke something other than HTTP/1.1."""


class ConnectFailed(TransportError):
    """No connection could be opened."""


class TimedOut(TransportError):
    """Connecting, or waiting for the next bytes of a response, took longer than allowed."""


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float
    # Between two reads of a response, streamed or not (as botocore's read_timeout).
    read_timeout: float
    # Idle connections kept per endpoint for the next calls; more concurrent calls open more.
    max_keepalive: int = 64


@cache
def _tls() -> ssl.SSLContext:
    # The CA bundle botocore's own clients verify AWS with (certifi's if it ships, else its own).
    from botocore.httpsession import get_cert_path

    return ssl.create_default_context(cafile=get_cert_path(True))


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        # A server that closed an idle connection has fed EOF by now (as httpcore checks).
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Response:
    """Status and headers of an answer; its body read whole (`read`) or as it comes (`chunks`).
    The connection returns to its pool once the body is read to its end, and is closed by
    `aclose` otherwise."""

    def __init__(
        self, pool: Pool, connection: _Connection, status: int, headers: dict[str, str]
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status_code = status
        # Lower-case names; of repeated headers, the last (Bedrock repeats none it sends).
        self.headers = headers
        self.content = b""

    async def chunks(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while True:
            event = await self._pool.next_event(connection)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._connection = None
                self._pool.release(connection)
                return

    async def read(self) -> bytes:
        self.content = b"".join([chunk async for chunk in self.chunks()])
        return self.content

    async def aclose(self) -> None:
        if self._connection is not None:
            # Unread body: the connection is mid-message and cannot serve another request.
            self._connection.close()
            self._connection = None


class Pool:
    """Connections to one origin (`https://host[:port]` or `http://...`) for one event loop."""

    def __init__(self, origin: str, settings: HttpSettings) -> None:
        parts = urlsplit(origin)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        self._settings = settings
        self._idle: list[_Connection] = []

    async def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        stream: bool = False,
    ) -> Response:
        """Send a request (its headers include Host); the response's body is read unless
        `stream`."""
        connection = await self._connection()
        try:
            request = h11.Request(
                method=method,
                target=target,
                headers=[*headers.items(), ("Content-Length", str(len(body)))],
            )
            data = connection.h11.send(request) + connection.h11.send(h11.Data(data=body))
            connection.writer.write(data + connection.h11.send(h11.EndOfMessage()))
            async with asyncio.timeout(self._settings.read_timeout):
                await connection.writer.drain()
            event = await self.next_event(connection)
            while isinstance(event, h11.InformationalResponse):  # 100 Continue, say
                event = await self.next_event(connection)
            if not isinstance(event, h11.Response):
                raise TransportError(f"unexpected {type(event).__name__} before the response")
        except (TransportError, OSError, h11.ProtocolError, TimeoutError) as error:
            connection.close()
            raise _transport_error(error) from error
        except BaseException:
            connection.close()  # cancelled mid-request: the connection is mid-message
            raise
        names = {name.decode().lower(): value.decode() for name, value in event.headers}
        response = Response(self, connection, event.status_code, names)
        if not stream:
            try:
                await response.read()
            finally:
                await response.aclose()
        return response

    async def next_event(self, connection: _Connection) -> Any:
        """The next h11 event of the response, reading as needed within the read timeout."""
        try:
            while True:
                event = connection.h11.next_event()
                if event is not h11.NEED_DATA:
                    if isinstance(event, h11.ConnectionClosed):
                        raise TransportError("the server closed the connection mid-response")
                    return event
                async with asyncio.timeout(self._settings.read_timeout):
                    data = await connection.reader.read(_READ)
                connection.h11.receive_data(data)
        except (OSError, h11.ProtocolError, TimeoutError) as error:
            connection.close()
            raise _transport_error(error) from error
        except TransportError:
            connection.close()
            raise

    def release(self, connection: _Connection) -> None:
        state = connection.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE and connection.reusable():
            state.start_next_cycle()
            if len(self._idle) < self._settings.max_keepalive:
                self._idle.append(connection)
                return
        connection.close()

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: least likely timed out
            if connection.reusable():
                return connection
            connection.close()
        try:
            async with asyncio.timeout(self._settings.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=_tls() if self._tls else None,
                    server_hostname=self._host if self._tls else None,
                    limit=_READ,
                )
        except (OSError, TimeoutError) as error:
            kind = TimedOut if isinstance(error, TimeoutError) else ConnectFailed
            raise kind(f"{self._host}:{self._port}: {error}") from error
        return _Connection(reader, writer)

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


def _transport_error(error: BaseException) -> TransportError:
    if isinstance(error, TransportError):
        return error
    if isinstance(error, TimeoutError):
        return TimedOut("no answer within the read timeout")
    return TransportError(str(error) or type(error).__name__)
