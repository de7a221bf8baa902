"""Amazon Bedrock Runtime's InvokeModel, its streaming twin and CountTokens, on the event loop.

Requests are signed by botocore and sent by `relay.backends.http1` (`signed_http` says why); the
event stream is parsed by botocore's own decoder. The Anthropic body goes through unchanged
(built by `relay.policy`); Bedrock's errors, timeouts and broken connections become Anthropic
errors here, faithfully, so clients retry what is retryable and nothing else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote

from botocore.eventstream import EventStreamBuffer, EventStreamMessage

from relay.backends.base import Call, Event, Metrics, Stream
from relay.backends.http1 import ConnectFailed, HttpSettings, Response, TimedOut, TransportError
from relay.backends.signed_http import AsyncClients, NoCredentials, SignedHttp, SignedRequest
from relay.errors import ApiError, ErrorType
from relay.reachability import runtime_endpoint

if TYPE_CHECKING:
    import boto3

    from relay.settings import Settings

_METRICS_KEY = "amazon-bedrock-invocationMetrics"
_JSON = "application/json"
_USER_AGENT = "claude-relay-kit"

# Bedrock error code -> the Anthropic error type a client of the Anthropic API would have seen.
_ERRORS: dict[str, ErrorType] = {
    "ValidationException": ErrorType.INVALID_REQUEST,
    "AccessDeniedException": ErrorType.PERMISSION,
    "UnrecognizedClientException": ErrorType.PERMISSION,
    "ResourceNotFoundException": ErrorType.NOT_FOUND,
    "ThrottlingException": ErrorType.RATE_LIMIT,
    "ServiceQuotaExceededException": ErrorType.RATE_LIMIT,
    "ModelTimeoutException": ErrorType.TIMEOUT,
    "ServiceUnavailableException": ErrorType.OVERLOADED,
    "ModelNotReadyException": ErrorType.OVERLOADED,
    "InternalServerException": ErrorType.API,
    "ModelErrorException": ErrorType.API,
    "ModelStreamErrorException": ErrorType.API,
}

_HINTS: dict[str, str] = {
    "AccessDeniedException": (
        " (check the relay role's bedrock:InvokeModel grant and that model access for this "
        "model is enabled in the Bedrock region; the first call of a new model can take up to "
        "15 minutes to be authorised)"
    ),
}

# An error answer without a code (a proxy's, say): the code its status stands for.
_STATUS_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    503: "ServiceUnavailableException",
}


def bedrock_error(code: str, message: str) -> ApiError:
    # Exceptions inside an event stream arrive named as events (`throttlingException`).
    code = code[:1].upper() + code[1:]
    kind = _ERRORS.get(code, ErrorType.API)
    text = f"Bedrock {code}: {message}{_HINTS.get(code, '')}"
    return ApiError(kind, text, f"bedrock:{code}")


class BedrockBackend:
    """Serves Anthropic Messages from Amazon Bedrock in one region."""

    name = "bedrock"

    def __init__(self, http: SignedHttp, settings: Settings) -> None:
        self._http = http
        self._settings = settings

    @classmethod
    def for_region(
        cls,
        settings: Settings,
        region: str,
        session: boto3.session.Session | None = None,
        clients: AsyncClients | None = None,
    ) -> BedrockBackend:
        """A backend for `region`; `clients` (the connection pools) may be shared by regions."""
        import boto3

        endpoint = runtime_endpoint(region, settings.bedrock_endpoint_url)
        clients = clients or AsyncClients(
            HttpSettings(settings.connect_timeout, settings.read_timeout)
        )
        credentials = (session or boto3.session.Session()).get_credentials
        http = SignedHttp(clients, credentials, "bedrock", region, endpoint, _USER_AGENT)
        return cls(http, settings)

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Content-Type": _JSON, accept: _JSON}
        if self._settings.guardrail_id and self._settings.guardrail_version:
            headers["X-Amzn-Bedrock-GuardrailIdentifier"] = self._settings.guardrail_id
            headers["X-Amzn-Bedrock-GuardrailVersion"] = self._settings.guardrail_version
        return headers

    def _request(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> SignedRequest:
        try:
            return self._http.request(path, json.dumps(body).encode(), headers)
        except NoCredentials:
            raise ApiError(
                ErrorType.PERMISSION,
                "The relay found no AWS credentials to call Bedrock with.",
                "bedrock:no_credentials",
            ) from None

    async def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]:
        request = self._request(_path(call.model_id, "invoke"), call.body, self._headers("Accept"))
        with _TransportErrors():
            response = await self._http.send(request)
        _raise_for_error(response)
        message: dict[str, Any] = json.loads(response.content)
        headers = response.headers
        metrics = Metrics(
            input_tokens=_int(headers.get("x-amzn-bedrock-input-token-count")),
            output_tokens=_int(headers.get("x-amzn-bedrock-output-token-count")),
            latency_ms=_int(headers.get("x-amzn-bedrock-invocation-latency")),
            provider_request_id=headers.get("x-amzn-requestid"),
        )
        return message, metrics

    async def stream(self, call: Call) -> Stream:
        body = call.body
        headers = self._headers("X-Amzn-Bedrock-Accept")
        if "X-Amzn-Bedrock-GuardrailIdentifier" in headers:
            # Synchronous (Bedrock's default, made explicit): the guardrail sees each chunk before
            # the client does, the only mode in which it can mask PII in a stream.
            body = {
                **body,
                "amazon-bedrock-guardrailConfig": {"streamProcessingMode": "SYNCHRONOUS"},
            }
        request = self._request(_path(call.model_id, "invoke-with-response-stream"), body, headers)
        with _TransportErrors():
            response = await self._http.send(request, stream=True)
        if response.status_code >= 300:
            with _TransportErrors():
                await response.read()
            await response.aclose()
            _raise_for_error(response)
        metrics = Metrics(provider_request_id=response.headers.get("x-amzn-requestid"))
        return Stream(self._events(response, metrics), metrics, response.aclose)

    async def _events(self, response: Response, metrics: Metrics) -> AsyncIterator[Event]:
        decoder = EventStreamBuffer()
        with _TransportErrors():
            async for data in response.chunks():
                decoder.add_data(data)
                for message in decoder:
                    event = _stream_event(message, metrics)
                    if event is not None:
                        yield event

    async def count_tokens(self, call: Call) -> int:
        invoke_body = base64.b64encode(json.dumps(call.body).encode()).decode()
        body = {"input": {"invokeModel": {"body": invoke_body}}}
        path = _path(call.count_model_id or call.model_id, "count-tokens")
        request = self._request(path, body, {"Content-Type": _JSON})
        with _TransportErrors():
            response = await self._http.send(request)
        _raise_for_error(response)
        return int(json.loads(response.content)["inputTokens"])


def _path(model_id: str, operation: str) -> str:
    # Model ids and ARNs carry ':' and '/': one path segment, percent-encoded as botocore does.
    return f"/model/{quote(model_id, safe='')}/{operation}"


def _stream_event(message: EventStreamMessage, metrics: Metrics) -> Event | None:
    # botocore-stubs types these headers as an int.
    headers = cast("Mapping[str, Any]", message.headers)
    kind = headers.get(":message-type")
    if kind == "exception":
        raise bedrock_error(str(headers.get(":exception-type")), _message(message.payload))
    if kind == "error":
        raise bedrock_error(str(headers.get(":error-code")), str(headers.get(":error-message")))
    if headers.get(":event-type") != "chunk":
        return None
    event: Event = json.loads(base64.b64decode(json.loads(message.payload)["bytes"]))
    invocation = event.pop(_METRICS_KEY, None)
    if invocation:
        metrics.input_tokens = invocation.get("inputTokenCount")
        metrics.output_tokens = invocation.get("outputTokenCount")
        metrics.latency_ms = invocation.get("invocationLatency")
        metrics.first_byte_ms = invocation.get("firstByteLatency")
    return event


def _raise_for_error(response: Response) -> None:
    """Bedrock's rest-json error: the code in `x-amzn-ErrorType` (or `__type`), then a message."""
    status = response.status_code
    if status < 300:
        return
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    code = response.headers.get("x-amzn-errortype", "") or str(payload.get("__type", ""))
    code = code.split(":")[0].rsplit("#", 1)[-1]
    if not code:
        code = _STATUS_CODES.get(status, "InternalServerException")
    raise bedrock_error(code, str(payload.get("message") or payload.get("Message") or ""))


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


class _TransportErrors:
    """Turns the transport's timeouts and broken connections inside a `with` block into
    ApiError: before a stream's first byte (retried, failed over) and after it (an error event)
    alike."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> Literal[False]:
        if isinstance(error, TimedOut):
            raise ApiError(
                ErrorType.TIMEOUT, "Bedrock did not answer in time.", "bedrock:timeout"
            ) from error
        if isinstance(error, ConnectFailed):
            raise ApiError(
                ErrorType.API, "Bedrock could not be reached.", "bedrock:unreachable"
            ) from error
        if isinstance(error, TransportError):
            raise ApiError(
                ErrorType.API, "The connection to Bedrock broke.", "bedrock:connection"
            ) from error
        return False


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
