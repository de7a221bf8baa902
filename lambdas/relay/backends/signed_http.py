"""SigV4-signed requests to an AWS service on the event loop: botocore's signer and credential
chain, `relay.backends.http1` for the wire.

Why not boto3 on worker threads (as before): its calls shared anyio's 40-thread limiter with
everything else, so the 41st concurrent model call waited; here a signer is built once per region
and no call needs a thread or botocore's per-call request building and event hooks. Why not
aiobotocore, which would also lift the ceiling: it adds ~13 MB installed / 3.5 MB zipped (aiohttp
and friends) and ~4x the import time, and pins botocore to its own release (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from relay.backends.http1 import HttpSettings, Pool, Response

if TYPE_CHECKING:
    from botocore.credentials import Credentials


class NoCredentials(Exception):
    """botocore's credential chain found nothing."""


@dataclass(frozen=True)
class SignedRequest:
    """A signed POST, ready to send: path (percent-encoded), headers (with Host), body."""

    path: str
    headers: dict[str, str]
    body: bytes


class AsyncClients:
    """Connection pools per running event loop and endpoint: a connection belongs to the loop
    that opened it (tests and tools may run several loops one after another)."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Pool]]
        self._pools = weakref.WeakKeyDictionary()

    def pool(self, origin: str) -> Pool:
        loop = asyncio.get_running_loop()
        pools = self._pools.get(loop)
        if pools is None:
            pools = self._pools[loop] = {}
        pool = pools.get(origin)
        if pool is None:
            pool = pools[origin] = Pool(origin, self._settings)
        return pool


class LazySigner:
    """A SigV4 signer for one service and region, built on first use."""

    def __init__(
        self,
        credentials: Callable[[], Credentials | None],
        service: str,
        region: str,
        kind: type[SigV4Auth] = SigV4Auth,
    ) -> None:
        self._credentials, self._kind = credentials, kind
        self._service, self._region = service, region
        self._signer: SigV4Auth | None = None
        self._lock = threading.Lock()

    def __call__(self) -> SigV4Auth:
        # Credentials are looked up on first use, not at start-up: the chain may ask a metadata
        # service, and a relay must start (and answer /health) without them.
        with self._lock:
            if self._signer is None:
                credentials = self._credentials()
                if credentials is None:
                    raise NoCredentials(f"no AWS credentials found for {self._service}")
                self._signer = self._kind(credentials, self._service, self._region)
            return self._signer


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
        self._endpoint = endpoint.rstrip("/")
        parts = urlsplit(self._endpoint)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path
        # Signed and sent as is: lower case, without a default port (as botocore derives it).
        default = {"https": 443, "http": 80}.get(parts.scheme)
        port = f":{parts.port}" if parts.port and parts.port != default else ""
        name = parts.hostname or ""
        self._host = (f"[{name}]" if ":" in name else name) + port  # an IPv6 address bracketed
        self._user_agent = user_agent
        self._sigv4 = LazySigner(credentials, service, region)

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> SignedRequest:
        """A signed POST of `body` to `path` (already percent-encoded)."""
        signed = AWSRequest(
            method="POST",
            url=self._endpoint + path,
            data=body,
            headers={**headers, "Host": self._host, "User-Agent": self._user_agent},
        )
        # Signing reads frozen credentials; botocore refreshes expiring ones (rarely, briefly).
        self._sigv4().add_auth(signed)
        return SignedRequest(self._prefix + path, dict(signed.headers.items()), body)

    async def send(self, request: SignedRequest, *, stream: bool = False) -> Response:
        pool = self._clients.pool(self._origin)
        return await pool.send("POST", request.path, request.headers, request.body, stream=stream)
