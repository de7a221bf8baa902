"""The simulator as a Starlette app: Bedrock Runtime's five Claude operations (InvokeModel, its
stream, Converse, ConverseStream, CountTokens), Vertex AI's three
(`relaykit.simulator.vertex`, same replies, faults and stats) and a control API.

Routes are thin: they parse, ask the state for an answer and render it. Every model request is
counted in the stats before anything can fail, so a test can assert what reached "Bedrock".

Bedrock's batch inference jobs (`relaykit.simulator.batch`) read and write S3 (moto).

Control endpoints (not part of Bedrock):
    POST /_simulator/faults  {"next": ["throttling", "mid_stream", ...]}  queue faults;
                             {"delays": [0.5, 0]} holds the next requests that many seconds
                             (with "model_id": ..., the next requests to that model id)
    GET  /_simulator/faults  the queued faults and delays
    GET  /_simulator/stats   requests by operation and model id, errors by code
    POST /_simulator/reset   forget stats, faults and the prompt cache; reseed the RNG
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from relay.catalog import Model
from relaykit.simulator import batch, converse
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.errors import BedrockError, ErrorType, render
from relaykit.simulator.eventstream import CONTENT_TYPE, chunk_frame, event_frame, exception_frame
from relaykit.simulator.faults import Drawn
from relaykit.simulator.pacing import paced_events
from relaykit.simulator.request import parse_body, parse_invoke_body
from relaykit.simulator.state import SimulatorState
from relaykit.simulator.tokens import count_input_tokens
from relaykit.simulator.vertex import routes as vertex_routes

Message = dict[str, Any]
INVOKE = "InvokeModel"
INVOKE_STREAM = "InvokeModelWithResponseStream"
COUNT_TOKENS = "CountTokens"
CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"
_STREAMS = frozenset({INVOKE_STREAM, CONVERSE_STREAM})


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def _begin(request: Request, operation: str) -> tuple[SimulatorState, str, Drawn]:
    """Count the request, wait the configured latency, and meet its faults."""
    state, model_id = _state(request), request.path_params["model_id"]
    drawn = await state.admit(operation, model_id, streaming=operation in _STREAMS)
    if drawn.upfront is not None:
        raise BedrockError.of(drawn.upfront)
    return state, model_id, drawn


def _fail(request: Request, error: BedrockError, request_id: str) -> Response:
    _state(request).stats.record_error(error.type.code)
    return render(error, request_id)


def _usage_headers(usage: dict[str, int]) -> dict[str, str]:
    headers = {
        "X-Amzn-Bedrock-Input-Token-Count": str(usage["input_tokens"]),
        "X-Amzn-Bedrock-Output-Token-Count": str(usage["output_tokens"]),
    }
    if usage["cache_read_input_tokens"]:
        headers["X-Amzn-Bedrock-Cache-Read-Input-Token-Count"] = str(
            usage["cache_read_input_tokens"]
        )
    if usage["cache_creation_input_tokens"]:
        headers["X-Amzn-Bedrock-Cache-Write-Input-Token-Count"] = str(
            usage["cache_creation_input_tokens"]
        )
    return headers


async def invoke(request: Request) -> Response:
    """InvokeModel: the Anthropic Message as JSON, token counts and latency in headers."""
    request_id, started = str(uuid.uuid4()), time.monotonic()
    try:
        state, model_id, _ = await _begin(request, INVOKE)
        invoke_request = parse_invoke_body(await request.body(), state.models.resolve(model_id))
        message = state.respond(invoke_request)
    except BedrockError as error:
        return _fail(request, error, request_id)
    headers = {
        "x-amzn-RequestId": request_id,
        "X-Amzn-Bedrock-Invocation-Latency": str(_ms_since(started)),
        **_usage_headers(message["usage"]),
    }
    return JSONResponse(message, headers=headers)


def _metrics(usage: dict[str, int], latency: int, first_byte: int) -> dict[str, int]:
    metrics = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": usage["output_tokens"],
        "invocationLatency": latency,
        "firstByteLatency": first_byte,
    }
    if usage["cache_read_input_tokens"]:
        metrics["cacheReadInputTokenCount"] = usage["cache_read_input_tokens"]
    if usage["cache_creation_input_tokens"]:
        metrics["cacheWriteInputTokenCount"] = usage["cache_creation_input_tokens"]
    return metrics


async def _frames(
    request: Request, message: dict[str, Any], mid_stream: ErrorType | None, started: float
) -> AsyncIterator[bytes]:
    first_byte: int | None = None
    async for item in paced_events(_state(request).config, message, mid_stream):
        if isinstance(item, ErrorType):
            _state(request).stats.record_error(item.code)
            yield exception_frame(BedrockError.of(item))
            return
        data = item
        if data["type"] == "message_stop":
            data = {
                **data,
                "amazon-bedrock-invocationMetrics": _metrics(
                    message["usage"], _ms_since(started), first_byte or 0
                ),
            }
        yield chunk_frame(data)
        if first_byte is None:
            first_byte = _ms_since(started)


async def invoke_stream(request: Request) -> Response:
    """InvokeModelWithResponseStream: Anthropic stream events as event-stream `chunk`s."""
    request_id, started = str(uuid.uuid4()), time.monotonic()
    try:
        state, model_id, drawn = await _begin(request, INVOKE_STREAM)
        invoke_request = parse_invoke_body(await request.body(), state.models.resolve(model_id))
        message = state.respond(invoke_request)
    except BedrockError as error:
        return _fail(request, error, request_id)
    headers = {"x-amzn-RequestId": request_id, "X-Amzn-Bedrock-Content-Type": "application/json"}
    return StreamingResponse(
        _frames(request, message, drawn.mid_stream, started),
        media_type=CONTENT_TYPE,
        headers=headers,
    )


async def _converse(request: Request, operation: str) -> tuple[Drawn, dict[str, Any], Message]:
    """Begin a Converse call: its faults, its request, and the Message answering it (the body
    validated as InvokeModel would validate the Messages body it stands for)."""
    state, model_id, drawn = await _begin(request, operation)
    body = parse_body(await request.body())
    model = state.models.resolve(model_id)
    raw = json.dumps(converse.invoke_body(body, model.max_output_tokens)).encode()
    return drawn, body, state.respond(parse_invoke_body(raw, model))


async def converse_once(request: Request) -> Response:
    """Converse: the reply as Converse's `output.message`, usage and metrics in the body."""
    request_id, started = str(uuid.uuid4()), time.monotonic()
    try:
        _, body, message = await _converse(request, CONVERSE)
    except BedrockError as error:
        return _fail(request, error, request_id)
    reply = converse.response(message, body, _ms_since(started))
    return JSONResponse(reply, headers={"x-amzn-RequestId": request_id})


async def _converse_frames(
    request: Request, message: dict[str, Any], mid_stream: ErrorType | None, started: float
) -> AsyncIterator[bytes]:
    async for item in paced_events(_state(request).config, message, mid_stream):
        if isinstance(item, ErrorType):
            _state(request).stats.record_error(item.code)
            yield exception_frame(BedrockError.of(item))
            return
        for name, payload in converse.stream_events(item, message, _ms_since(started)):
            yield event_frame(name, json.dumps(payload, separators=(",", ":")).encode())


async def converse_stream(request: Request) -> Response:
    """ConverseStream: Converse's stream members as event-stream messages."""
    request_id, started = str(uuid.uuid4()), time.monotonic()
    try:
        drawn, _, message = await _converse(request, CONVERSE_STREAM)
    except BedrockError as error:
        return _fail(request, error, request_id)
    return StreamingResponse(
        _converse_frames(request, message, drawn.mid_stream, started),
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id},
    )


def _counted_body(body: dict[str, Any], model: Model) -> dict[str, Any]:
    """The Messages body a CountTokens input stands for, validated like InvokeModel's."""
    source = body.get("input")
    if isinstance(source, dict) and len(source) == 1:
        if isinstance(source.get("converse"), dict):
            return converse.messages_body(source["converse"])
        invoke_model = source.get("invokeModel")
        if isinstance(invoke_model, dict) and isinstance(invoke_model.get("body"), str):
            try:
                raw = base64.b64decode(invoke_model["body"], validate=True)
            except binascii.Error:
                raw = b""
            return parse_invoke_body(raw, model).body
    raise BedrockError.validation(
        "Malformed input request: #/input: exactly one of [invokeModel, converse] is required, "
        "please reformat your input and try again."
    )


async def count_tokens(request: Request) -> Response:
    """CountTokens: the input tokens InvokeModel would report for the same body."""
    request_id = str(uuid.uuid4())
    try:
        state, model_id, _ = await _begin(request, COUNT_TOKENS)
        model = state.models.resolve(model_id)
        if not model.bedrock_count_tokens:
            raise BedrockError.validation("The provided model doesn't support counting tokens.")
        counted = _counted_body(parse_body(await request.body()), model)
    except BedrockError as error:
        return _fail(request, error, request_id)
    return JSONResponse(
        {"inputTokens": count_input_tokens(counted)}, headers={"x-amzn-RequestId": request_id}
    )


async def unknown_operation(request: Request) -> Response:
    error = BedrockError.of(ErrorType.UNKNOWN_OPERATION)
    return render(error, str(uuid.uuid4()))


async def inject_faults(request: Request) -> Response:
    try:
        body = await request.json()
        if not isinstance(body, dict) or not ({"next", "delays"} & body.keys()):
            raise ValueError('expected {"next": ["<fault>", ...]} and/or {"delays": [seconds]}')
        names, delays = body.get("next", []), body.get("delays", [])
        model_id = body.get("model_id", "")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError('expected {"next": ["<fault>", ...]}')
        if not isinstance(delays, list) or not isinstance(model_id, str):
            raise ValueError('expected {"delays": [seconds, ...], "model_id": "<optional id>"}')
        _state(request).faults.inject(names)
        _state(request).faults.delay(delays, model_id)
    except (ValueError, KeyError) as error:
        return JSONResponse({"message": str(error)}, status_code=400)
    return await pending_faults(request)


async def pending_faults(request: Request) -> Response:
    faults = _state(request).faults
    return JSONResponse({"pending": faults.pending(), "delays": faults.pending_delays()})


async def stats(request: Request) -> Response:
    return JSONResponse(_state(request).stats.snapshot())


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """A fresh simulator; its state is `app.state.simulator` (a SimulatorState)."""
    routes = [
        Route("/model/{model_id:path}/invoke", invoke, methods=["POST"]),
        Route(
            "/model/{model_id:path}/invoke-with-response-stream", invoke_stream, methods=["POST"]
        ),
        Route("/model/{model_id:path}/count-tokens", count_tokens, methods=["POST"]),
        Route("/model/{model_id:path}/converse", converse_once, methods=["POST"]),
        Route("/model/{model_id:path}/converse-stream", converse_stream, methods=["POST"]),
        *vertex_routes(),
        # Bedrock's control plane: batch inference jobs.
        *batch.routes(),
        Route("/_simulator/faults", inject_faults, methods=["POST"]),
        Route("/_simulator/faults", pending_faults, methods=["GET"]),
        Route("/_simulator/stats", stats, methods=["GET"]),
        Route("/_simulator/reset", reset, methods=["POST"]),
        Route("/{path:path}", unknown_operation, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.state.simulator = SimulatorState(config or SimulatorConfig())
    return app
