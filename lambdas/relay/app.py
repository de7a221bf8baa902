"""The relay as one ASGI application: `create_app()` under uvicorn, locally or on Lambda.

Starlette rather than FastAPI: the relay needs routing, streaming and middleware, not FastAPI's
dependency injection or OpenAPI generation, and on Lambda cold starts count (FastAPI() alone
costs ~175 ms more to import and build here than Starlette with uvicorn and boto3 together).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relay.access import AccessMiddleware
from relay.backends.base import Backend
from relay.core import Routes
from relay.errors import ApiError, ErrorType
from relay.routes import Handlers
from relay.settings import Settings

_HTTP_ERRORS = {404: ErrorType.NOT_FOUND, 413: ErrorType.REQUEST_TOO_LARGE}


def render(error: ApiError) -> Response:
    """The one place an error becomes an HTTP response."""
    return Response(
        error.body(), error.status, headers=error.headers, media_type="application/json"
    )


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    request.state.facts["error"] = error.code
    return render(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kind = _HTTP_ERRORS.get(error.status_code, ErrorType.INVALID_REQUEST)
    message = f"{request.method} {request.url.path}: {error.detail}"
    return render(
        ApiError(kind, message, f"http_{error.status_code}", http_status=error.status_code)
    )


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> Starlette:
    """Build the relay. Without arguments it reads the environment and calls real Bedrock."""
    settings = settings or Settings.from_env(os.environ)
    routes = Routes.plan(settings)
    if backend is None:
        from relay.backends.bedrock import BedrockBackend

        backend = BedrockBackend.from_settings(settings)
    handlers = Handlers(settings, routes, backend)
    return Starlette(
        routes=[
            Route("/health", handlers.health, methods=["GET"]),
            # Clients (Claude Code) probe the base URL with HEAD / before their first call.
            Route("/", handlers.health, methods=["GET", "HEAD"]),
            Route("/v1/messages", handlers.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", handlers.count_tokens, methods=["POST"]),
            Route("/v1/models", handlers.list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", handlers.get_model, methods=["GET"]),
        ],
        middleware=[Middleware(AccessMiddleware)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
