"""Bedrock Runtime's errors as values, and the one place that renders them on the wire.

An up-front error is an HTTP response in the rest-json style botocore parses: the error code in
the `x-amzn-ErrorType` header and `{"message": ...}` as the body, so boto3 raises
`client.exceptions.<Code>`. A mid-stream error is an event-stream exception message; its type is
the lower-camel member name of the ResponseStream union (`throttlingException`), which botocore
raises as `botocore.exceptions.EventStreamError` carrying that code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from starlette.responses import Response


class ErrorType(Enum):
    """Bedrock Runtime error shapes: HTTP status and the message Bedrock sends for them."""

    VALIDATION = ("ValidationException", 400, "The provided request is not valid.")
    ACCESS_DENIED = (
        "AccessDeniedException",
        403,
        "You don't have access to the model with the specified model ID.",
    )
    # Bedrock's answer to credentials it does not recognise (Vertex AI: 401 UNAUTHENTICATED).
    UNRECOGNIZED_CLIENT = (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )
    RESOURCE_NOT_FOUND = ("ResourceNotFoundException", 404, "The requested resource was not found.")
    MODEL_TIMEOUT = (
        "ModelTimeoutException",
        408,
        "Model has timed out in processing the request. Try your request again.",
    )
    THROTTLING = ("ThrottlingException", 429, "Too many requests, please wait before trying again.")
    MODEL_NOT_READY = (
        "ModelNotReadyException",
        429,
        "The model is not ready to serve inference requests. Try your request again later.",
    )
    SERVICE_QUOTA_EXCEEDED = (
        "ServiceQuotaExceededException",
        400,
        "Your request exceeds the service quota for your account.",
    )
    MODEL_ERROR = ("ModelErrorException", 424, "The model returned an error.")
    MODEL_STREAM_ERROR = (
        "ModelStreamErrorException",
        424,
        "The model stream encountered an error. Try your request again.",
    )
    INTERNAL_SERVER = (
        "InternalServerException",
        500,
        "The system encountered an unexpected error during processing. Try your request again.",
    )
    SERVICE_UNAVAILABLE = (
        "ServiceUnavailableException",
        503,
        "Bedrock is unable to process your request.",
    )
    UNKNOWN_OPERATION = ("UnknownOperationException", 404, "The operation is not supported.")

    def __init__(self, code: str, status: int, default_message: str) -> None:
        self.code = code
        self.status = status
        self.default_message = default_message

    @property
    def stream_code(self) -> str:
        """The name of this error as a member of the ResponseStream event-stream union."""
        return self.code[0].lower() + self.code[1:]


# The exceptions the ResponseStream union models; others cannot be sent mid-stream.
STREAM_ERRORS = frozenset(
    {
        ErrorType.INTERNAL_SERVER,
        ErrorType.MODEL_STREAM_ERROR,
        ErrorType.VALIDATION,
        ErrorType.THROTTLING,
        ErrorType.MODEL_TIMEOUT,
        ErrorType.SERVICE_UNAVAILABLE,
    }
)


@dataclass
class BedrockError(Exception):
    """An error Bedrock Runtime would return; raised by the core, rendered by `render`."""

    type: ErrorType
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.type.code}: {self.message}")

    @classmethod
    def of(cls, error_type: ErrorType) -> BedrockError:
        extra: dict[str, Any] = {}
        if error_type is ErrorType.MODEL_STREAM_ERROR:
            extra = {"originalStatusCode": 500, "originalMessage": "Internal server error"}
        return cls(error_type, error_type.default_message, extra)

    @classmethod
    def validation(cls, message: str) -> BedrockError:
        return cls(ErrorType.VALIDATION, message)

    def payload(self) -> bytes:
        return json.dumps({"message": self.message, **self.extra}).encode()


def render(error: BedrockError, request_id: str) -> Response:
    """The HTTP response of an up-front error, as botocore's rest-json parser reads it."""
    return Response(
        error.payload(),
        status_code=error.type.status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": error.type.code, "x-amzn-RequestId": request_id},
    )
