"""API Gateway's own errors, as synthesised, reach the anthropic SDK as its error classes.

Each GatewayResponse of the relay template is served by a tiny loopback server the way API
Gateway would send it (its status, its headers, its body with `$context.requestId` substituted)
and the real SDK is pointed at it: the exception it raises is what a client sees.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
import pytest
from aws_stack_helpers import RELAY_PRIMARY, resources

from relay.settings import Settings
from stacks.aws.compute_limits import LAMBDA_PAYLOAD_LIMIT_BYTES

REQUEST_ID = "req-gateway-123"
# What the SDK raises per status; the catch-alls are shown with a status API Gateway uses.
EXPECTED = {
    "UNAUTHORIZED": (401, anthropic.AuthenticationError, "authentication_error"),
    "ACCESS_DENIED": (403, anthropic.PermissionDeniedError, "permission_error"),
    "INVALID_API_KEY": (403, anthropic.PermissionDeniedError, "permission_error"),
    "MISSING_AUTHENTICATION_TOKEN": (404, anthropic.NotFoundError, "not_found_error"),
    "THROTTLED": (429, anthropic.RateLimitError, "rate_limit_error"),
    "QUOTA_EXCEEDED": (429, anthropic.RateLimitError, "rate_limit_error"),
    "WAF_FILTERED": (403, anthropic.PermissionDeniedError, "permission_error"),
    "REQUEST_TOO_LARGE": (413, anthropic.APIStatusError, "request_too_large"),
    "INTEGRATION_TIMEOUT": (504, anthropic.InternalServerError, "timeout_error"),
    "INTEGRATION_FAILURE": (502, anthropic.InternalServerError, "api_error"),
    "AUTHORIZER_FAILURE": (500, anthropic.InternalServerError, "api_error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, anthropic.InternalServerError, "api_error"),
    "BAD_REQUEST_BODY": (400, anthropic.BadRequestError, "invalid_request_error"),
    "BAD_REQUEST_PARAMETERS": (400, anthropic.BadRequestError, "invalid_request_error"),
    "DEFAULT_4XX": (415, anthropic.APIStatusError, "invalid_request_error"),
    "DEFAULT_5XX": (503, anthropic.InternalServerError, "api_error"),
}


def _gateway_responses(synthesis: Any) -> dict[str, dict[str, Any]]:
    found = resources(synthesis.templates[RELAY_PRIMARY], "AWS::ApiGateway::GatewayResponse")
    return {r["Properties"]["ResponseType"]: r["Properties"] for r in found.values()}


class _Canned:
    status = 500
    headers: ClassVar[dict[str, str]] = {}
    body = b""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(_Canned.status)
        for name, value in _Canned.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(_Canned.body)))
        self.end_headers()
        self.wfile.write(_Canned.body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


def _as_sent(props: dict[str, Any], status: int) -> tuple[int, dict[str, str], bytes]:
    """What API Gateway sends for this GatewayResponse: literals unquoted, context substituted."""
    headers = {}
    for key, value in props.get("ResponseParameters", {}).items():
        name = key.removeprefix("gatewayresponse.header.")
        if value == "context.requestId":
            headers[name] = REQUEST_ID
        else:
            assert value[0] == value[-1] == "'", value
            headers[name] = value[1:-1]
    body = props["ResponseTemplates"]["application/json"].replace("$context.requestId", REQUEST_ID)
    assert "$" not in body, body
    return int(props.get("StatusCode", status)), headers, body.encode()


def test_every_error_type_a_client_meets_has_a_gateway_response(synthesis: Any) -> None:
    assert set(_gateway_responses(synthesis)) == set(EXPECTED)


@pytest.mark.parametrize("response_type", sorted(EXPECTED))
def test_gateway_response_is_an_anthropic_error_for_the_sdk(
    response_type: str, synthesis: Any, gateway: str
) -> None:
    status, error_class, error_type = EXPECTED[response_type]
    props = _gateway_responses(synthesis)[response_type]
    _Canned.status, _Canned.headers, _Canned.body = _as_sent(props, status)
    assert _Canned.status == status
    client = anthropic.Anthropic(base_url=gateway, api_key="sk-relay-x", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    error = raised.value
    assert isinstance(error, error_class), type(error)
    assert error.status_code == status
    assert error.request_id == REQUEST_ID
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == error_type
    assert error.body["error"]["message"]
    assert error.body["request_id"] == REQUEST_ID
    if status == 429:
        assert int(error.response.headers["retry-after"]) >= 1


def test_health_is_open_without_a_key(synthesis: Any) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    health_ids = [
        k
        for k, r in resources(template, "AWS::ApiGateway::Resource").items()
        if r["Properties"]["PathPart"] == "health"
    ]
    (health_id,) = health_ids
    methods = [
        r["Properties"]
        for r in resources(template, "AWS::ApiGateway::Method").values()
        if r["Properties"]["ResourceId"] == {"Ref": health_id}
    ]
    assert [(m["HttpMethod"], m["AuthorizationType"]) for m in methods] == [("GET", "NONE")]
    assert not methods[0].get("ApiKeyRequired", False)


def test_relay_body_limit_fits_a_lambda_invocation(synthesis: Any) -> None:
    template = synthesis.templates[RELAY_PRIMARY]
    (relay,) = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::Function").values()
        if "RELAY_AUTH" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    environment = relay["Environment"]["Variables"]
    limit = int(environment["RELAY_MAX_BODY_BYTES"])
    # Base64 (4/3) of the largest admitted body still fits Lambda's 6 MB with room for the event.
    assert limit * 4 / 3 < LAMBDA_PAYLOAD_LIMIT_BYTES - 32 * 1024
    assert Settings.from_env(environment).max_body_bytes == limit
