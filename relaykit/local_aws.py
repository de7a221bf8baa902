"""An embedded AWS (moto's server) on a loopback port, for local mode and tests.

It handles one request at a time: moto's backends are not thread-safe, and serialising whole
requests still lets concurrent clients interleave call by call, as they would against AWS.
"""

from __future__ import annotations

import threading
from typing import Any, Self

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from relaykit.threaded import LOOPBACK, Running

REGION = "us-east-1"


class _QuietHandler(MotoRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        """No werkzeug access line per call: the relay logs its own requests."""


class LocalAws(Running):
    """moto in a daemon thread; `session()` gives boto3 sessions with throwaway credentials."""

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded AWS is not running")
        return f"http://{self._host}:{self._server.server_port}"

    def session(self, region: str = REGION) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto checks no signature
            region_name=region,
        )

    def start(self) -> Self:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._host, self._port, app, threaded=False, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedded-aws", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
