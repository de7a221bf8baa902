"""API Gateway's own errors in Anthropic's error shape, so the SDKs classify them.

Requests API Gateway refuses before the relay runs (no or unknown key, a usage plan's throttle or
quota, WAF, a body over the gateway's limit, an integration timeout, ...) would otherwise get
`{"message": "Forbidden"}`-style bodies. Each `GatewayError` below becomes a `GatewayResponse`
with Anthropic's body `{"type": "error", "error": {"type", "message"}, "request_id"}` and a
`request-id` header carrying API Gateway's request id (what the relay logs too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigw

REQUEST_ID = "$context.requestId"


@dataclass(frozen=True)
class GatewayError:
    response_type: apigw.ResponseType
    # None keeps the status API Gateway chose (the DEFAULT_4XX/5XX catch-alls).
    status: int | None
    error_type: str
    message: str
    retry_after_seconds: int | None = None

    def body(self) -> str:
        """The mapping template: Anthropic's error JSON with API Gateway's request id."""
        return json.dumps(
            {
                "type": "error",
                "error": {"type": self.error_type, "message": self.message},
                "request_id": REQUEST_ID,
            }
        )

    def headers(self) -> dict[str, str]:
        # Header values are quoted literals or context variables (API Gateway's syntax).
        headers = {"request-id": "context.requestId", "content-type": "'application/json'"}
        if self.retry_after_seconds is not None:
            headers["retry-after"] = f"'{self.retry_after_seconds}'"
        return headers


_KEY_HINT = "send a relay key as 'x-api-key' or 'Authorization: Bearer <key>'"
GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    GatewayError(
        apigw.ResponseType.UNAUTHORIZED,
        401,
        "authentication_error",
        f"Missing or invalid API key: {_KEY_HINT}.",
    ),
    GatewayError(
        apigw.ResponseType.ACCESS_DENIED,
        403,
        "permission_error",
        "This API key is revoked or expired.",
    ),
    GatewayError(
        apigw.ResponseType.INVALID_API_KEY,
        403,
        "permission_error",
        "This API key is not admitted at the gateway: the operator registers it in the usage "
        "plan with `relaykit keys create --usage-plan`.",
    ),
    GatewayError(
        apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        404,
        "not_found_error",
        "No such endpoint.",
    ),
    GatewayError(
        apigw.ResponseType.THROTTLED,
        429,
        "rate_limit_error",
        "This key is over its usage plan's request rate; retry after a second.",
        retry_after_seconds=1,
    ),
    GatewayError(
        apigw.ResponseType.QUOTA_EXCEEDED,
        429,
        "rate_limit_error",
        "This key is over its usage plan's daily request quota; it resets at 00:00 UTC.",
        retry_after_seconds=3600,
    ),
    GatewayError(
        apigw.ResponseType.WAF_FILTERED,
        403,
        "permission_error",
        "Request blocked by the relay's web ACL (per-address rate limit, or the address or "
        "country is not on its allow-list).",
    ),
    GatewayError(
        apigw.ResponseType.REQUEST_TOO_LARGE,
        413,
        "request_too_large",
        "Request exceeds the gateway's 10 MB limit.",
    ),
    GatewayError(
        apigw.ResponseType.INTEGRATION_TIMEOUT,
        504,
        "timeout_error",
        "The relay did not answer in time.",
    ),
    GatewayError(
        apigw.ResponseType.INTEGRATION_FAILURE,
        502,
        "api_error",
        "The relay failed to answer (for a request over the function's payload limit, send a "
        "smaller body).",
    ),
    GatewayError(
        apigw.ResponseType.AUTHORIZER_FAILURE,
        500,
        "api_error",
        "The gateway could not check the API key; retry.",
    ),
    GatewayError(
        apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR,
        500,
        "api_error",
        "The gateway could not check the API key; retry.",
    ),
    GatewayError(
        apigw.ResponseType.BAD_REQUEST_BODY,
        400,
        "invalid_request_error",
        "The request body is not valid.",
    ),
    GatewayError(
        apigw.ResponseType.BAD_REQUEST_PARAMETERS,
        400,
        "invalid_request_error",
        "The request parameters are not valid.",
    ),
    GatewayError(
        apigw.ResponseType.DEFAULT_4_XX,
        None,
        "invalid_request_error",
        "The gateway refused the request.",
    ),
    GatewayError(
        apigw.ResponseType.DEFAULT_5_XX,
        None,
        "api_error",
        "The gateway failed to handle the request; retry.",
    ),
)


def add_gateway_responses(api: apigw.RestApi) -> None:
    """Attach every `GATEWAY_ERRORS` entry to `api`."""
    for error in GATEWAY_ERRORS:
        api.add_gateway_response(
            f"Gateway{error.response_type.response_type.title().replace('_', '')}",
            type=error.response_type,
            status_code=None if error.status is None else str(error.status),
            response_headers=error.headers(),
            templates={"application/json": error.body()},
        )
