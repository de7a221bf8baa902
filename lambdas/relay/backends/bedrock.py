"""Amazon Bedrock through boto3's bedrock-runtime: InvokeModel, its streaming twin, CountTokens.

The Anthropic body goes through unchanged (built by `relay.policy`); Bedrock's exceptions become
Anthropic errors here, faithfully, so clients retry what is retryable and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError as BotoConnectTimeout
from botocore.exceptions import ReadTimeoutError as BotoReadTimeout
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from relay.backends.base import Call, Event, Metrics, Stream
from relay.errors import ApiError, ErrorType

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

    from relay.settings import Settings

_METRICS_KEY = "amazon-bedrock-invocationMetrics"

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


def bedrock_error(code: str, message: str) -> ApiError:
    # Exceptions inside an event stream arrive named as events (`throttlingException`).
    code = code[:1].upper() + code[1:]
    kind = _ERRORS.get(code, ErrorType.API)
    text = f"Bedrock {code}: {message}{_HINTS.get(code, '')}"
    return ApiError(kind, text, f"bedrock:{code}")


class BedrockBackend:
    """Serves Anthropic Messages from Amazon Bedrock in one region."""

    name = "bedrock"

    def __init__(self, client: BedrockRuntimeClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    @classmethod
    def for_region(
        cls, settings: Settings, region: str, session: boto3.session.Session | None = None
    ) -> BedrockBackend:
        """A backend with its client built once (reused across Lambda warm starts)."""
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # The client decides about retries (the SDKs retry 429/5xx honouring retry-after).
            retries={"total_max_attempts": 1},
            max_pool_connections=64,
            tcp_keepalive=True,
            user_agent_extra="claude-relay-kit",
        )
        client = (session or boto3.session.Session()).client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=settings.bedrock_endpoint_url,
            config=config,
        )
        return cls(client, settings)

    def _guardrail(self) -> dict[str, str]:
        if not self._settings.guardrail_id or not self._settings.guardrail_version:
            return {}
        return {
            "guardrailIdentifier": self._settings.guardrail_id,
            "guardrailVersion": self._settings.guardrail_version,
        }

    def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]:
        with _BedrockErrors():
            response = self._client.invoke_model(
                modelId=call.model_id,
                body=json.dumps(call.body).encode(),
                contentType="application/json",
                accept="application/json",
                **self._guardrail(),  # type: ignore[arg-type]
            )
            message = json.loads(response["body"].read())
        headers = response["ResponseMetadata"].get("HTTPHeaders", {})
        metrics = Metrics(
            input_tokens=_int(headers.get("x-amzn-bedrock-input-token-count")),
            output_tokens=_int(headers.get("x-amzn-bedrock-output-token-count")),
            latency_ms=_int(headers.get("x-amzn-bedrock-invocation-latency")),
            provider_request_id=response["ResponseMetadata"].get("RequestId"),
        )
        return message, metrics

    def stream(self, call: Call) -> Stream:
        body = call.body
        guardrail = self._guardrail()
        if guardrail:
            # Synchronous (Bedrock's default, made explicit): the guardrail sees each chunk before
            # the client does, the only mode in which it can mask PII in a stream.
            body = {
                **body,
                "amazon-bedrock-guardrailConfig": {"streamProcessingMode": "SYNCHRONOUS"},
            }
        with _BedrockErrors():
            response = self._client.invoke_model_with_response_stream(
                modelId=call.model_id,
                body=json.dumps(body).encode(),
                contentType="application/json",
                accept="application/json",
                **guardrail,  # type: ignore[arg-type]
            )
        metrics = Metrics(provider_request_id=response["ResponseMetadata"].get("RequestId"))
        return Stream(self._events(response["body"], metrics), metrics, response["body"].close)

    def _events(self, body: Any, metrics: Metrics) -> Iterator[Event]:
        with _BedrockErrors():
            for part in body:
                chunk = part.get("chunk")
                if chunk is None:
                    continue
                event: Event = json.loads(chunk["bytes"])
                invocation = event.pop(_METRICS_KEY, None)
                if invocation:
                    metrics.input_tokens = invocation.get("inputTokenCount")
                    metrics.output_tokens = invocation.get("outputTokenCount")
                    metrics.latency_ms = invocation.get("invocationLatency")
                    metrics.first_byte_ms = invocation.get("firstByteLatency")
                yield event

    def count_tokens(self, call: Call) -> int:
        with _BedrockErrors():
            response = self._client.count_tokens(
                modelId=call.count_model_id or call.model_id,
                input={"invokeModel": {"body": json.dumps(call.body).encode()}},
            )
        return int(response["inputTokens"])


class _BedrockErrors:
    """Turns botocore failures inside a `with` block into ApiError."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> Literal[False]:
        if error is None or isinstance(error, ApiError | GeneratorExit):
            return False
        if isinstance(error, ClientError | EventStreamError):
            info = error.response.get("Error", {})
            code = info.get("Code", "InternalServerException")
            raise bedrock_error(code, info.get("Message", "")) from error
        # A stream's body is read by urllib3 itself, so its own exceptions escape botocore's
        # wrapping there: both families are mapped, before and after the first byte alike.
        if isinstance(error, BotoReadTimeout | BotoConnectTimeout | Urllib3Timeout | TimeoutError):
            raise ApiError(
                ErrorType.TIMEOUT, "Bedrock did not answer in time.", "bedrock:timeout"
            ) from error
        if isinstance(error, BotoConnectionError):
            raise ApiError(
                ErrorType.API, "Bedrock could not be reached.", "bedrock:unreachable"
            ) from error
        if isinstance(error, HTTPClientError | Urllib3Error | OSError):
            raise ApiError(
                ErrorType.API, "The connection to Bedrock broke.", "bedrock:connection"
            ) from error
        return False


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
