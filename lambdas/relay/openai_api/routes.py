"""HTTP endpoints of the OpenAI shape: parse, translate, call the Messages seam, translate back.

`POST /v1/chat/completions` always speaks OpenAI. `GET /v1/models` and `GET /v1/models/{id}`
share their paths with the Anthropic API: every Anthropic client sends `anthropic-version`, so a
request with that header gets Anthropic's shape and any other gets OpenAI's. `speaks_openai` is
that rule; app.py's error renderer uses it too, so errors come in the caller's shape.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay import sse
from relay.backends.base import Event
from relay.openai_api import response, stream
from relay.routes import Handlers

CHAT = "openai.chat_completions"
MODELS = ("openai.models", "openai.model")


def openai_routes(handlers: Handlers) -> list[Route]:
    """The OpenAI-shaped routes; the two model routes serve Anthropic clients as before."""
    api = OpenAIHandlers(handlers)
    return [
        Route("/v1/chat/completions", api.chat_completions, methods=["POST"], name=CHAT),
        Route("/v1/models", api.list_models, methods=["GET"], name=MODELS[0]),
        Route("/v1/models/{model_id:path}", api.get_model, methods=["GET"], name=MODELS[1]),
    ]


def speaks_openai(request: Request) -> bool:
    """Whether the answer to this request, error or not, takes OpenAI's shape."""
    name = getattr(request.scope.get("route"), "name", None)
    if name == CHAT:
        return True
    return name in MODELS and "anthropic-version" not in request.headers


class OpenAIHandlers:
    """The OpenAI-shaped routes, on top of the relay's own handlers (auth, body, exchange)."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers

    async def chat_completions(self, request: Request) -> Response:
        await self._authenticate(request)
        # Imported on the first chat call: its pydantic models are no part of a Messages cold start.
        from relay.openai_api.request import translate

        chat = translate(await self.handlers.read_json(request))
        request.state.facts["api"] = "openai"
        if chat.dropped:
            # Names only, never values (`user` may identify a person).
            request.state.facts["openai_dropped"] = list(chat.dropped)
        exchange = await self.handlers.exchange(request, chat.body)
        created = int(time.time())
        if exchange.events is not None:
            chunks = stream.ChunkStream(created, chat.include_usage)
            return sse.EventStreamResponse(_encoded(chunks, exchange.events), exchange.headers)
        assert exchange.message is not None
        return JSONResponse(
            response.completion(exchange.message, created), headers=exchange.headers
        )

    async def _authenticate(self, request: Request) -> None:
        await self.handlers.authenticate(request)

    async def list_models(self, request: Request) -> Response:
        if not speaks_openai(request):
            return await self.handlers.list_models(request)
        return JSONResponse(response.model_list(await self.handlers.model_infos(request)))

    async def get_model(self, request: Request) -> Response:
        if not speaks_openai(request):
            return await self.handlers.get_model(request)
        return JSONResponse(response.model_object(await self.handlers.model_info(request)))


async def _encoded(
    chunks: stream.ChunkStream, events: AsyncIterator[Event]
) -> AsyncIterator[bytes]:
    failed = False
    async for event in events:
        failed = failed or event.get("type") == "error"
        for chunk in chunks.feed(event):
            yield stream.encode(chunk)
    if not failed:
        yield stream.DONE
