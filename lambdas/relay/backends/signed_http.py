"""SigV4-signed requests to an AWS service on the event loop: botocore's signer and credential
chain, httpx for the wire.

Why not boto3 on worker threads (as before): its calls shared anyio's 40-thread limiter with
everything else, so the 41st concurrent model call waited; here a signer is built once per region
and no call needs a thread or botocore's per-call request building and event hooks. Why not
aiobotocore, which would also lift the ceiling: it adds ~13 MB installed / 3.5 MB zipped (aiohttp
and friends) and ~4x the import time, and pins botocore to its own release; httpx adds ~1 MB /
0.3 MB (bench/RESULTS.md, which also records the per-request cost still to win back at moderate
concurrency).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

if TYPE_CHECKING:
    from botocore.credentials import Credentials


class NoCredentials(Exception):
    """botocore's credential chain found nothing."""


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float
    # Between two reads of a response, streamed or not (as botocore's read_timeout).
    read_timeout: float
    # None: no ceiling of the relay's own; the server's concurrency limit bounds the calls.
    max_connections: int | None = None
    max_keepalive: int = 64


class AsyncClients:
    """One pooled httpx client per running event loop: a pool's connections belong to the loop
    that opened them (tests and tools may run several loops one after another)."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    def current(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            settings = self._settings
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                limits=httpx.Limits(
                    max_connections=settings.max_connections,
                    max_keepalive_connections=settings.max_keepalive,
                ),
                # Credentials come from botocore's chain only, never from a .netrc.
                trust_env=False,
            )
            self._clients[loop] = client
        return client


class SignedHttp:
    """Signs and sends requests to one service endpoint in one region."""

    def __init__(
        self,
        clients: AsyncClients,
        credentials: Callable[[], Credentials | None],
        service: str,
        region: str,
        endpoint: str,
        user_agent: str,
    ) -> None:
        self._clients = clients
        self._credentials = credentials
        self._service, self._region = service, region
        self._endpoint = endpoint.rstrip("/")
        self._user_agent = user_agent
        self._signer: SigV4Auth | None = None
        self._lock = threading.Lock()

    def _sigv4(self) -> SigV4Auth:
        # Credentials are looked up on first use, not at start-up: the chain may ask a metadata
        # service, and a relay must start (and answer /health) without them.
        with self._lock:
            if self._signer is None:
                credentials = self._credentials()
                if credentials is None:
                    raise NoCredentials(f"no AWS credentials found for {self._service}")
                self._signer = SigV4Auth(credentials, self._service, self._region)
            return self._signer

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> httpx.Request:
        """A signed POST of `body` to `path` (already percent-encoded)."""
        url = self._endpoint + path
        signed = AWSRequest(
            method="POST", url=url, data=body, headers={**headers, "User-Agent": self._user_agent}
        )
        # Signing reads frozen credentials; botocore refreshes expiring ones (rarely, briefly).
        self._sigv4().add_auth(signed)
        return httpx.Request("POST", url, content=body, headers=dict(signed.headers.items()))

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        return await self._clients.current().send(request, stream=stream)
