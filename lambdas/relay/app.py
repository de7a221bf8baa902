"""The relay as one ASGI application: `create_app()` under uvicorn, locally or on Lambda.

Starlette rather than FastAPI: the relay needs routing, streaming and middleware, not FastAPI's
dependency injection or OpenAPI generation, and on Lambda cold starts count (FastAPI() alone
costs ~175 ms more to import and build here than Starlette with uvicorn and boto3 together).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from relay.access import AccessMiddleware
from relay.batches.routes import BatchRoutes
from relay.core import Routes
from relay.errors import ApiError, ErrorType
from relay.openai_api import errors as openai_errors
from relay.openai_api.routes import openai_routes, speaks_openai
from relay.routes import Handlers
from relay.services import Services
from relay.settings import Settings

_HTTP_ERRORS = {404: ErrorType.NOT_FOUND, 413: ErrorType.REQUEST_TOO_LARGE}


def render(error: ApiError, request: Request | None = None) -> Response:
    """The one place an error becomes an HTTP response, in the shape of the API it answers."""
    openai = request is not None and speaks_openai(request)
    body = openai_errors.body(error) if openai else error.body()
    return Response(body, error.status, headers=error.headers, media_type="application/json")


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    request.state.facts["error"] = error.code
    return render(error, request)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kind = _HTTP_ERRORS.get(error.status_code, ErrorType.INVALID_REQUEST)
    message = f"{request.method} {request.url.path}: {error.detail}"
    return render(
        ApiError(kind, message, f"http_{error.status_code}", http_status=error.status_code),
        request,
    )


class InputLimits:
    """Refuses a request whose headers are too many or too large (431 in the API's shape) and
    serves a path with a trailing slash as the path without it (no 307 that clients would have to
    follow with their body). Plain ASGI, so streamed responses pass through untouched."""

    def __init__(self, app: ASGIApp, max_headers: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = sum(len(name) + len(value) for name, value in headers)
            if len(headers) > self.max_headers or size > self.max_header_bytes:
                error = header_error(self.max_headers, self.max_header_bytes)
                # Before routing: the path alone says which API's shape the answer takes.
                openai = scope["path"].startswith("/v1/chat/")
                body = openai_errors.body(error) if openai else error.body()
                response = Response(body, error.status, media_type="application/json")
                await response(scope, receive, send)
                return
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


def header_error(max_headers: int, max_header_bytes: int) -> ApiError:
    return ApiError(
        ErrorType.INVALID_REQUEST,
        f"The request headers exceed the relay's limits ({max_headers} headers, "
        f"{max_header_bytes} bytes in all).",
        "headers_too_large",
        http_status=431,
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """Build the relay. Without arguments it reads the environment and calls real AWS."""
    settings = settings or Settings.from_env(os.environ)
    services = services or Services.from_env(settings, os.environ)
    routes = Routes.plan(settings, services.backends)
    handlers = Handlers(settings, routes, services)
    threads = settings.threads

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Sized once per event loop: anyio's default limiter (40) serves every blocking call.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return Starlette(
        routes=[
            Route("/health", handlers.health, methods=["GET"]),
            # Clients (Claude Code) probe the base URL with HEAD / before their first call.
            Route("/", handlers.health, methods=["GET", "HEAD"]),
            Route("/v1/messages", handlers.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", handlers.count_tokens, methods=["POST"]),
            # Message Batches on Bedrock batch inference (404 unless RELAY_BATCH_BUCKET is set).
            *BatchRoutes(handlers).routes(),
            # Chat Completions, and /v1/models in OpenAI's or Anthropic's shape by header.
            *openai_routes(handlers),
        ],
        middleware=[
            Middleware(AccessMiddleware),
            Middleware(InputLimits, settings.max_headers, settings.max_header_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
