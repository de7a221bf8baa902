"""Claude on Vertex AI, simulated: rawPredict, streamRawPredict and count-tokens:rawPredict.

The paths are Vertex AI's publisher-model paths under `/v1/projects/{project}/locations/
{location}/publishers/anthropic/models/`, served by the same app as the Bedrock paths and
sharing their replies, prompt cache, fault queue and stats (operations `VertexRawPredict`,
`VertexStreamRawPredict`, `VertexCountTokens`). No credential is checked.

Errors come in the two shapes Vertex AI returns: Google's envelope
(`{"error": {"code": 429, "message": ..., "status": "RESOURCE_EXHAUSTED"}}`) for what the
platform refuses (quota, permission, unknown model, server trouble), and Anthropic's own error
object, passed through, for what the model refuses (a bad body, overload). A stream that breaks
ends with an Anthropic `error` event, as Anthropic's streams do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from relay.catalog import Model
from relaykit.simulator.errors import BedrockError, ErrorType
from relaykit.simulator.pacing import paced_events
from relaykit.simulator.request import VERTEX, parse_count_body, parse_invoke_body
from relaykit.simulator.state import SimulatorState
from relaykit.simulator.tokens import count_input_tokens

RAW_PREDICT = "VertexRawPredict"
STREAM_RAW_PREDICT = "VertexStreamRawPredict"
COUNT_TOKENS = "VertexCountTokens"

MODELS_PATH = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models"
SSE_MEDIA_TYPE = "text/event-stream"


def sse(event: dict[str, Any]) -> bytes:
    """One event as Anthropic's streams write it: `event: <type>`, then compact JSON data.

    Written here rather than borrowed from the relay, so relay tests check the relay's own.
    """
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


@dataclass
class VertexError(Exception):
    """An error as Vertex AI returns it: Google's envelope when `status` (a google.rpc code
    name) is set, otherwise an Anthropic error object of type `anthropic_type`."""

    http_status: int
    message: str
    status: str = ""
    anthropic_type: str = ""

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    @property
    def code(self) -> str:
        return self.status or self.anthropic_type

    def payload(self, request_id: str) -> dict[str, Any]:
        if self.status:
            return {
                "error": {"code": self.http_status, "message": self.message, "status": self.status}
            }
        return {
            "type": "error",
            "error": {"type": self.anthropic_type, "message": self.message},
            "request_id": request_id,
        }

    @classmethod
    def invalid_request(cls, message: str) -> VertexError:
        return cls(400, message, anthropic_type="invalid_request_error")


# Up-front faults as the Google status Vertex AI answers with.
_GOOGLE: dict[ErrorType, tuple[int, str]] = {
    ErrorType.VALIDATION: (400, "INVALID_ARGUMENT"),
    ErrorType.UNRECOGNIZED_CLIENT: (401, "UNAUTHENTICATED"),
    ErrorType.ACCESS_DENIED: (403, "PERMISSION_DENIED"),
    ErrorType.RESOURCE_NOT_FOUND: (404, "NOT_FOUND"),
    ErrorType.THROTTLING: (429, "RESOURCE_EXHAUSTED"),
    ErrorType.SERVICE_QUOTA_EXCEEDED: (429, "RESOURCE_EXHAUSTED"),
    ErrorType.INTERNAL_SERVER: (500, "INTERNAL"),
    ErrorType.MODEL_ERROR: (500, "INTERNAL"),
    ErrorType.SERVICE_UNAVAILABLE: (503, "UNAVAILABLE"),
    ErrorType.MODEL_TIMEOUT: (504, "DEADLINE_EXCEEDED"),
}

# Mid-stream faults as the Anthropic error event that ends the stream.
_STREAM: dict[ErrorType, tuple[str, str]] = {
    ErrorType.THROTTLING: ("rate_limit_error", "Rate limited. Please retry later."),
    ErrorType.SERVICE_UNAVAILABLE: ("overloaded_error", "Overloaded"),
    ErrorType.MODEL_NOT_READY: ("overloaded_error", "Overloaded"),
    ErrorType.MODEL_TIMEOUT: ("timeout_error", "The model did not finish in time."),
    ErrorType.VALIDATION: ("invalid_request_error", "The request is not valid."),
}


@dataclass(frozen=True)
class _Target:
    """The publisher model a request's path names."""

    project: str
    location: str
    model_id: str

    @property
    def resource(self) -> str:
        return (
            f"projects/{self.project}/locations/{self.location}/publishers/anthropic/models/"
            f"{self.model_id}"
        )


def _google_message(status: str, target: _Target, model: Model | None) -> str:
    if status == "RESOURCE_EXHAUSTED":
        base = model.vertex_base_model if model else target.model_id
        return (
            f"Quota exceeded for base model {base} in {target.location}. Retry later or ask for "
            "a higher quota."
        )
    if status == "PERMISSION_DENIED":
        return f"Permission 'aiplatform.endpoints.predict' denied on resource {target.resource}."
    if status == "NOT_FOUND":
        return f"Publisher model {target.resource} was not found or is not enabled."
    if status == "UNAUTHENTICATED":
        return "Request had invalid authentication credentials."
    if status == "UNAVAILABLE":
        return "The service is currently unavailable."
    if status == "DEADLINE_EXCEEDED":
        return "Deadline expired before the operation could complete."
    if status == "INVALID_ARGUMENT":
        return "Request contains an invalid argument."
    return "Internal error encountered."


def upfront_error(error: ErrorType, target: _Target, model: Model | None = None) -> VertexError:
    """The response Vertex AI gives for a fault met before the model starts."""
    if error in _GOOGLE:
        http_status, status = _GOOGLE[error]
        return VertexError(http_status, _google_message(status, target, model), status=status)
    # The model itself is overloaded: Anthropic's 529, passed through.
    return VertexError(529, "Overloaded", anthropic_type="overloaded_error")


def stream_error(error: ErrorType) -> dict[str, Any]:
    """The Anthropic `error` event that ends a stream broken by `error`."""
    kind, message = _STREAM.get(error, ("api_error", "Internal server error"))
    return {"type": "error", "error": {"type": kind, "message": message}}


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _target(request: Request, model_id: str) -> _Target:
    params = request.path_params
    return _Target(params["project"], params["location"], model_id)


def _model(state: SimulatorState, target: _Target) -> Model:
    """The catalog model of a Vertex model id offered in the path's location, or NOT_FOUND."""
    model = state.models.vertex(target.model_id)
    # An empty `vertex_regions` means the catalog does not know where: any location is taken.
    if model is None or (model.vertex_regions and target.location not in model.vertex_regions):
        raise upfront_error(ErrorType.RESOURCE_NOT_FOUND, target)
    return model


def _betas(request: Request) -> list[str]:
    """Vertex AI takes beta flags in the `anthropic-beta` header (comma-separated)."""
    return [
        flag.strip()
        for value in request.headers.getlist("anthropic-beta")
        for flag in value.split(",")
        if flag.strip()
    ]


def _fail(state: SimulatorState, error: VertexError) -> Response:
    state.stats.record_error(error.code)
    request_id = f"req_vrtx_{uuid.uuid4().hex}"
    return JSONResponse(error.payload(request_id), status_code=error.http_status)


async def _events(
    state: SimulatorState, message: dict[str, Any], mid_stream: ErrorType | None
) -> AsyncIterator[bytes]:
    async for item in paced_events(state.config, message, mid_stream):
        if isinstance(item, ErrorType):
            event = stream_error(item)
            state.stats.record_error(event["error"]["type"])
            yield sse(event)
            return
        yield sse(item)
        if item["type"] == "message_start":
            yield sse({"type": "ping"})


async def _predict(request: Request, *, stream: bool) -> Response:
    state = _state(request)
    target = _target(request, request.path_params["model"])
    operation = STREAM_RAW_PREDICT if stream else RAW_PREDICT
    drawn = await state.admit(operation, target.model_id, streaming=stream)
    try:
        if drawn.upfront is not None:
            raise upfront_error(drawn.upfront, target, state.models.vertex(target.model_id))
        model = _model(state, target)
        invoke = parse_invoke_body(await request.body(), model, VERTEX, _betas(request))
        message = state.respond(invoke)
    except BedrockError as error:
        # The shared body checks: Anthropic's invalid_request_error, passed through.
        return _fail(state, VertexError.invalid_request(error.message))
    except VertexError as error:
        return _fail(state, error)
    if not stream:
        return JSONResponse(message)
    return StreamingResponse(_events(state, message, drawn.mid_stream), media_type=SSE_MEDIA_TYPE)


async def raw_predict(request: Request) -> Response:
    """rawPredict: the Anthropic Message as JSON."""
    return await _predict(request, stream=False)


async def stream_raw_predict(request: Request) -> Response:
    """streamRawPredict: Anthropic's stream events as Server-Sent Events."""
    return await _predict(request, stream=True)


def _named_model(raw: bytes) -> str:
    """The `model` a count-tokens body names, for the stats (before the body is validated)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return ""
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else ""


async def count_tokens(request: Request) -> Response:
    """count-tokens:rawPredict: `{"input_tokens": n}` for a body naming its model."""
    state = _state(request)
    raw = await request.body()
    target = _target(request, _named_model(raw))
    drawn = await state.admit(COUNT_TOKENS, target.model_id, streaming=False)
    try:
        if drawn.upfront is not None:
            raise upfront_error(drawn.upfront, target, state.models.vertex(target.model_id))
        body = parse_count_body(raw, _betas(request))
        _model(state, target)
    except BedrockError as error:
        return _fail(state, VertexError.invalid_request(error.message))
    except VertexError as error:
        return _fail(state, error)
    return JSONResponse({"input_tokens": count_input_tokens(body)})


def routes() -> list[Route]:
    """The Vertex AI routes; count-tokens first, as its path also fits `{model}:rawPredict`."""
    return [
        Route(f"{MODELS_PATH}/count-tokens:rawPredict", count_tokens, methods=["POST"]),
        Route(f"{MODELS_PATH}/{{model}}:rawPredict", raw_predict, methods=["POST"]),
        Route(f"{MODELS_PATH}/{{model}}:streamRawPredict", stream_raw_predict, methods=["POST"]),
    ]
