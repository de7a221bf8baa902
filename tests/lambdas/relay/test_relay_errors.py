"""Every failure reaches the client as Anthropic's error JSON, raised as the SDK's own class.

Bad input is refused before anything reaches Bedrock: each such test checks the simulator saw
no request.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from relay_wire import HEADERS, KEY, user

from relay.catalog import DEFAULT_MODEL, MODELS

MODEL = DEFAULT_MODEL.alias


def post(relay: Any, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    return httpx.post(
        f"{relay.url}/v1/messages",
        headers={**HEADERS, "content-type": "application/json", **headers},
        content=content,
        json=None if content is not None else body,
    )


def assert_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert response.headers["request-id"].startswith("req_")
    message: str = body["error"]["message"]
    return message


# Bad input: 400, and nothing reaches the backend.


def test_malformed_json_is_invalid_request(relay) -> None:
    assert "not valid JSON" in assert_error(post(relay, b"{nope"), 400, "invalid_request_error")
    assert relay.reached_backend() == 0


def test_a_body_that_is_not_an_object_is_invalid_request(relay) -> None:
    assert_error(post(relay, b"[1, 2]"), 400, "invalid_request_error")
    assert relay.reached_backend() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_tokens": "many"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": "hello"}, "messages"),
        ({"messages": []}, "messages"),
        ({"temperature": 3}, "temperature"),
        ({"stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages.0.content"),
    ],
)
def test_wrong_types_and_ranges_name_the_field(relay, change: dict[str, Any], field: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("hi"), **change}
    message = assert_error(post(relay, body), 400, "invalid_request_error")
    assert message.startswith(field)
    assert relay.reached_backend() == 0


def test_missing_max_tokens_is_named(relay) -> None:
    message = assert_error(
        post(relay, {"model": MODEL, "messages": user("hi")}), 400, "invalid_request_error"
    )
    assert message.startswith("max_tokens")
    assert relay.reached_backend() == 0


def test_system_role_in_messages_is_refused_with_the_fix(relay) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        relay.client().messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "system", "content": "x"}],  # type: ignore[list-item, typeddict-item]
        )
    assert "top-level 'system'" in raised.value.message
    assert relay.reached_backend() == 0


def test_unknown_model_lists_what_the_relay_serves(relay) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        relay.client().messages.create(
            model="claude-nonexistent", max_tokens=10, messages=user("x")
        )
    assert "unknown model 'claude-nonexistent'" in raised.value.message
    assert DEFAULT_MODEL.alias in raised.value.message
    assert relay.reached_backend() == 0


def test_max_tokens_above_the_model_limit_is_refused(relay) -> None:
    # Through httpx: the SDK itself refuses such a non-streamed request before sending it.
    too_many = DEFAULT_MODEL.max_output_tokens + 1
    body = {"model": MODEL, "max_tokens": too_many, "messages": user("x")}
    message = assert_error(post(relay, body), 400, "invalid_request_error")
    assert str(DEFAULT_MODEL.max_output_tokens) in message
    assert relay.reached_backend() == 0


def test_thinking_budget_must_be_below_max_tokens(relay) -> None:
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        relay.client().messages.create(
            model=MODEL,
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 4000},
            messages=user("x"),
        )
    assert relay.reached_backend() == 0


def test_a_field_bedrock_cannot_honour_is_refused(relay) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("x"), "mcp_servers": []}
    assert "mcp_servers" in assert_error(post(relay, body), 400, "invalid_request_error")
    assert relay.reached_backend() == 0


def test_count_tokens_is_refused_for_a_model_bedrock_cannot_count(relay) -> None:
    uncounted = next(m for m in MODELS if m.served and not m.bedrock_count_tokens)
    with pytest.raises(anthropic.BadRequestError, match="count_tokens is not available"):
        relay.client().messages.count_tokens(model=uncounted.alias, messages=user("x"))
    assert relay.reached_backend() == 0


# Authentication and routing.


def test_missing_key_is_authentication_error(relay) -> None:
    response = httpx.post(
        f"{relay.url}/v1/messages", json={"model": MODEL, "max_tokens": 5, "messages": user("x")}
    )
    assert "Missing API key" in assert_error(response, 401, "authentication_error")
    assert relay.reached_backend() == 0


def test_wrong_key_raises_the_sdk_authentication_error(relay) -> None:
    client = anthropic.Anthropic(base_url=relay.url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert relay.reached_backend() == 0


def test_unknown_model_id_on_models_endpoint_is_not_found(relay) -> None:
    with pytest.raises(anthropic.NotFoundError):
        relay.client().models.retrieve("claude-nonexistent")


def test_unknown_path_is_not_found_in_anthropic_shape(relay) -> None:
    response = httpx.get(f"{relay.url}/v1/nothing-here", headers={"x-api-key": KEY})
    assert_error(response, 404, "not_found_error")


def test_wrong_method_is_an_anthropic_error_with_status_405(relay) -> None:
    response = httpx.get(f"{relay.url}/v1/messages", headers={"x-api-key": KEY})
    assert_error(response, 405, "invalid_request_error")


def test_oversized_body_is_request_too_large(relay) -> None:
    big = "x" * (300 * 1024)
    body = {"model": MODEL, "max_tokens": 5, "messages": user(big)}
    assert_error(post(relay, body), 413, "request_too_large")
    assert relay.reached_backend() == 0


def test_oversized_body_raises_the_sdk_too_large_error(relay) -> None:
    with pytest.raises(anthropic.ContentTooLargeError):
        relay.client().messages.create(model=MODEL, max_tokens=5, messages=user("x" * (300 * 1024)))


# Bedrock failures mapped faithfully.


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        ("throttling", anthropic.RateLimitError, 429),
        ("quota", anthropic.RateLimitError, 429),
        ("access_denied", anthropic.PermissionDeniedError, 403),
        ("not_found", anthropic.NotFoundError, 404),
        ("validation", anthropic.BadRequestError, 400),
        ("internal", anthropic.InternalServerError, 500),
        ("model_error", anthropic.InternalServerError, 500),
        ("timeout", anthropic.GatewayTimeoutError, 504),
        ("unavailable", anthropic.OverloadedError, 529),
        ("model_not_ready", anthropic.OverloadedError, 529),
    ],
)
def test_bedrock_errors_become_the_sdk_error_class(
    relay, fault: str, error_class: type[anthropic.APIStatusError], status: int
) -> None:
    relay.simulator.state.faults.inject([fault])
    with pytest.raises(error_class) as raised:
        relay.client().messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert raised.value.status_code == status
    assert raised.value.body["error"]["message"].startswith("Bedrock ")  # type: ignore[index]


def test_throttling_tells_the_client_when_to_retry(relay) -> None:
    relay.simulator.state.faults.inject(["throttling"])
    with pytest.raises(anthropic.RateLimitError) as raised:
        relay.client().messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert raised.value.response.headers["retry-after"] == "5"


def test_the_sdk_retries_a_throttled_request_and_succeeds(relay) -> None:
    relay.simulator.state.faults.inject(["throttling"])
    client = anthropic.Anthropic(base_url=relay.url, api_key=KEY, max_retries=1)
    with pytest.MonkeyPatch.context() as patch:
        # The SDK would sleep for retry-after (5 s); the test only needs the retry.
        patch.setattr("anthropic._base_client.time.sleep", lambda _seconds: None)
        message = client.messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert message.type == "message"
    assert relay.reached_backend() == 2


def test_streaming_error_before_the_first_event_has_an_http_status(relay) -> None:
    relay.simulator.state.faults.inject(["throttling"])
    with (
        pytest.raises(anthropic.RateLimitError),
        relay.client().messages.stream(model=MODEL, max_tokens=5, messages=user("x")) as stream,
    ):
        stream.until_done()


def test_mid_stream_failure_ends_the_stream_with_an_error_event(relay) -> None:
    relay.simulator.state.faults.inject(["mid_stream_internal"])
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        relay.client().messages.stream(model=MODEL, max_tokens=200, messages=user("x")) as stream,
    ):
        stream.until_done()
    assert raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_mid_stream_error_event_is_anthropics_shape_on_the_wire(relay) -> None:
    relay.simulator.state.faults.inject(["mid_stream_throttling"])
    body = {"model": MODEL, "max_tokens": 200, "stream": True, "messages": user("x")}
    with httpx.stream("POST", f"{relay.url}/v1/messages", headers=HEADERS, json=body) as response:
        lines = list(response.iter_lines())
    assert response.status_code == 200
    event = lines.index("event: error")
    assert lines[event + 1].startswith('data: {"type":"error","error":{"type":"rate_limit_error"')
    assert "event: message_stop" not in lines
