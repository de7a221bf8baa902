"""An ASGI app under uvicorn in a daemon thread on a loopback port, for the CLI and tests."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from starlette.types import ASGIApp

from relaykit.failures import bind_failure

LOOPBACK = "127.0.0.1"
_START_TIMEOUT = 10.0


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll `url`/health until it answers; RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.args!r} did not answer within {timeout} s") from None
            time.sleep(0.1)


def bind(host: str, port: int, name: str) -> socket.socket:
    """A socket bound to host:port; OSError naming both (port taken, unknown host) otherwise."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise OSError(f"cannot serve the {name} on {host}:{port}: {reason}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        failure = OSError(f"cannot serve the {name} on {host}:{port}: {error.strerror}")
        failure.errno = error.errno
        raise failure from None
    return sock


def listen(host: str, port: int, name: str) -> socket.socket:
    """A listening socket (clients queue until the server takes over); Failure naming --port or
    --host when the address cannot be had."""
    try:
        sock = bind(host, port, name)
    except OSError as error:
        raise bind_failure(error, port) from None
    sock.listen()
    return sock


class Running:
    """`with` support for anything that starts and stops."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedServer(Running):
    """Serves `app` on host:port (a free port when 0) while running; `url` says where."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        name: str,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """`options`: uvicorn.Config arguments, e.g. `ServerOptions().uvicorn_config()`."""
        self.app = app
        self._options = {
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **(options or {}),
        }
        self.name = name
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError(f"the {self.name} is not running")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def running(self) -> bool:
        return self._socket is not None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind and serve; OSError (e.g. the port is taken) propagates with the port named."""
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} is already running")
        sock = bind(self._host, self._port, self.name)
        self._socket = sock
        config = uvicorn.Config(self.app, **self._options)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the main thread ends the wait)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
