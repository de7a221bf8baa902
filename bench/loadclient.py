"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for load generation.

The load generator shares two cores with the servers it measures; a general-purpose client
(httpx) spends more CPU per request than the relay does, and that would show as noise in every
figure. This one does only what the bench needs: POST a JSON body on one persistent
connection, read a Content-Length or chunked response, and hand each body chunk to a callback
(to time the first token of a stream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


class Connection:
    """One persistent connection to `base_url`; one request at a time."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def post(
        self, path: str, body: object, on_chunk: Callable[[bytes], None] | None = None
    ) -> bytes:
        """POST `body` as JSON; the response body (empty when `on_chunk` takes the chunks)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(data)}\r\n{self._headers}\r\n"
        )
        self._writer.write(head.encode() + data)
        try:
            return await self._response(self._reader, on_chunk)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise

    async def _response(
        self, reader: asyncio.StreamReader, on_chunk: Callable[[bytes], None] | None
    ) -> bytes:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        out = bytearray()
        if "content-length" in headers:
            chunk = await reader.readexactly(int(headers["content-length"]))
            if on_chunk is not None:
                on_chunk(chunk)
            out += chunk
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = (await reader.readexactly(size + 2))[:-2]
                if size == 0:
                    break
                if on_chunk is not None:
                    on_chunk(chunk)
                else:
                    out += chunk
        if headers.get("connection") == "close":
            await self.close()
        if status >= 400:
            raise HttpError(f"HTTP {status}: {bytes(out)[:200]!r}")
        return bytes(out)
