"""HTTP endpoints: parse, call the core and a backend, render. Nothing is decided here."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from relay import sse
from relay.auth import authenticate
from relay.backends.base import Backend, Event, Metrics, Stream
from relay.core import (
    Plan,
    Routes,
    add_usage,
    find_model,
    model_info,
    model_page,
    plan_count,
    plan_message,
    present_event,
    present_message,
)
from relay.cost import cost_usd
from relay.errors import ApiError, ErrorType, invalid_request
from relay.settings import Settings


@dataclass(frozen=True)
class Exchange:
    """The outcome of one Messages call: a message, or (streamed) its events."""

    plan: Plan
    headers: dict[str, str]
    message: dict[str, Any] | None = None
    events: AsyncIterator[Event] | None = None


class Handlers:
    """The relay's routes, bound to one configuration, route table and backend."""

    def __init__(self, settings: Settings, routes: Routes, backend: Backend) -> None:
        self.settings = settings
        self.routes = routes
        self.backend = backend

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_models(self, request: Request) -> Response:
        authenticate(request.headers, self.settings)
        return JSONResponse(model_page(self.routes.models()))

    async def get_model(self, request: Request) -> Response:
        authenticate(request.headers, self.settings)
        return JSONResponse(model_info(find_model(request.path_params["model_id"], self.routes)))

    async def count_tokens(self, request: Request) -> Response:
        authenticate(request.headers, self.settings)
        body = await self.read_json(request)
        plan = plan_count(body, _betas(request), self.settings, self.routes)
        _note(request, plan)
        tokens = await run_in_threadpool(self.backend.count_tokens, plan.call)
        return JSONResponse({"input_tokens": tokens}, headers=_headers(plan))

    async def messages(self, request: Request) -> Response:
        authenticate(request.headers, self.settings)
        exchange = await self.exchange(request, await self.read_json(request))
        if exchange.events is not None:
            return StreamingResponse(
                sse.encode_stream(exchange.events),
                media_type="text/event-stream",
                headers={**exchange.headers, "cache-control": "no-cache"},
            )
        return JSONResponse(exchange.message, headers=exchange.headers)

    async def exchange(self, request: Request, body: object) -> Exchange:
        """One Messages call, plain or streamed, metered and logged: the seam every API shape
        (Anthropic's, OpenAI's) goes through. `body` is an Anthropic Messages request."""
        plan = plan_message(body, _betas(request), self.settings, self.routes)
        _note(request, plan)
        if plan.stream:
            stream = await run_in_threadpool(self.backend.stream, plan.call)
            return Exchange(plan, _headers(plan), events=self._events(request, plan, stream))
        message, metrics = await run_in_threadpool(self.backend.invoke, plan.call)
        _record(request, plan, message.get("usage") or {}, metrics)
        return Exchange(plan, _headers(plan), message=present_message(message, plan.model))

    async def _events(self, request: Request, plan: Plan, stream: Stream) -> AsyncIterator[Event]:
        """The stream's events as the client sees them; a failure becomes a final error event."""
        started = time.perf_counter()
        usage: dict[str, Any] = {}
        facts = request.state.facts
        try:
            async for event in iterate_in_threadpool(stream.events):
                add_usage(usage, event)
                if "ttft_ms" not in facts and event.get("type") == "content_block_delta":
                    facts["ttft_ms"] = round((time.perf_counter() - started) * 1000, 1)
                yield present_event(event, plan.model)
        except ApiError as error:
            facts["error"] = error.code
            yield error.payload()
        finally:
            stream.close()
            _record(request, plan, usage, stream.metrics)

    async def read_json(self, request: Request) -> object:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise _too_large(limit)
        try:
            return json.loads(body)
        except ValueError:
            raise invalid_request("The request body is not valid JSON.", "bad_json") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(
        ErrorType.REQUEST_TOO_LARGE,
        f"Request exceeds the maximum allowed number of bytes ({limit}).",
        "too_large",
    )


def _betas(request: Request) -> list[str]:
    return request.headers.getlist("anthropic-beta")


def _headers(plan: Plan) -> dict[str, str]:
    if plan.warning is None:
        return {}
    return {"warning": f'299 - "{plan.warning}"'}


def _note(request: Request, plan: Plan) -> None:
    facts = request.state.facts
    facts.update(model=plan.model.alias, bedrock_model_id=plan.call.model_id, stream=plan.stream)
    if plan.dropped:
        # Names of fields and beta flags only, never their values.
        facts["dropped"] = list(plan.dropped)


def _record(request: Request, plan: Plan, usage: dict[str, Any], metrics: Metrics) -> None:
    facts = request.state.facts
    facts.update(
        input_tokens=usage.get("input_tokens", metrics.input_tokens),
        output_tokens=usage.get("output_tokens", metrics.output_tokens),
        cache_read_tokens=usage.get("cache_read_input_tokens"),
        cache_write_tokens=usage.get("cache_creation_input_tokens"),
        cost_usd=float(cost_usd(plan.model, usage, plan.target.premium)),
        bedrock_request_id=metrics.provider_request_id,
    )
