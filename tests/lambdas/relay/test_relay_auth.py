"""How a presented key becomes a caller: trimming, repeated headers, API Gateway mode, and the
order of refusals."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import HEADERS, KEY, user
from starlette.datastructures import Headers

from relay.auth import authenticate
from relay.catalog import DEFAULT_MODEL, MODELS, SONNET_4_5
from relay.keys import StaticKeys, key_id_of
from relay.settings import AuthMode, Settings, key_digest

MODEL = DEFAULT_MODEL.alias
LISTED = "gateway-key-listed-by-the-operator"
BODY = {"model": MODEL, "max_tokens": 5, "messages": user("hi")}


def post(
    url: str, headers: object, body: object = BODY, path: str = "/v1/messages"
) -> httpx.Response:
    return httpx.post(f"{url}{path}", headers=headers, json=body, timeout=30)  # type: ignore[arg-type]


def refused(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    return message


@pytest.fixture(scope="module")
def behind_api_gateway() -> Iterator[Gateway]:
    listed = frozenset({key_id_of(key_digest(LISTED))})
    with running_gateway(auth=AuthMode.API_GATEWAY, unlimited_key_ids=listed) as running:
        yield running


def test_behind_api_gateway_a_key_the_table_does_not_know_is_refused(behind_api_gateway) -> None:
    headers = {**HEADERS, "x-api-key": "admitted-by-the-gateway-only"}
    before = behind_api_gateway.reached_backend()
    message = refused(post(behind_api_gateway.url, headers), 403, "permission_error")
    assert "RELAY_UNLIMITED_KEY_IDS" in message
    assert "admitted-by-the-gateway-only" not in message
    assert behind_api_gateway.reached_backend() == before


def test_behind_api_gateway_a_listed_key_runs_without_limits(behind_api_gateway) -> None:
    response = post(behind_api_gateway.url, {**HEADERS, "x-api-key": LISTED})
    assert response.status_code == 200, response.text


def test_behind_api_gateway_an_issued_key_keeps_its_limits(behind_api_gateway) -> None:
    secret, _ = behind_api_gateway.store.create_key("team-a", rpm=1)
    headers = {**HEADERS, "x-api-key": secret}
    assert post(behind_api_gateway.url, headers).status_code == 200
    refused(post(behind_api_gateway.url, headers), 429, "rate_limit_error")


def test_behind_api_gateway_no_key_at_all_is_an_authentication_error(behind_api_gateway) -> None:
    headers = {"anthropic-version": "2023-06-01"}
    refused(post(behind_api_gateway.url, headers), 401, "authentication_error")


def test_x_api_key_is_trimmed_like_a_bearer_token() -> None:
    # uvicorn strips spaces and tabs around a header value itself; other ASGI servers and
    # adapters need not, so the relay trims too (at the unit: HTTP clients refuse to send it).
    settings = Settings(bedrock_region="us-east-1", key_digests=frozenset({key_digest(KEY)}))
    keys = StaticKeys(settings.key_digests)
    for raw in (
        (b"x-api-key", f" {KEY}\t".encode()),
        (b"authorization", f"Bearer  {KEY} ".encode()),
    ):
        key = authenticate(Headers(raw=[raw]), settings, keys)
        assert key.key_id == key_id_of(key_digest(KEY))


def test_a_repeated_x_api_key_header_is_refused(relay) -> None:
    headers = [
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", KEY),
        ("x-api-key", "sk-relay-someone-else"),
    ]
    message = refused(post(relay.url, headers), 401, "authentication_error")
    assert "more than once" in message


def test_count_tokens_for_a_model_the_key_may_not_use_is_403_before_any_400(
    behind_api_gateway,
) -> None:
    other = next(m for m in MODELS if m.served and m is not DEFAULT_MODEL)
    secret, _ = behind_api_gateway.store.create_key(
        "team-a", models=frozenset({other.anthropic_id})
    )
    headers = {**HEADERS, "x-api-key": secret}
    invalid = {"model": MODEL, "messages": "not a list"}
    path = "/v1/messages/count_tokens"
    refused(post(behind_api_gateway.url, headers, invalid, path), 403, "permission_error")
    refused(
        post(behind_api_gateway.url, headers, {**invalid, "max_tokens": -1}),
        403,
        "permission_error",
    )


def test_a_family_name_is_served_by_the_newest_model_the_key_may_use(behind_api_gateway) -> None:
    # Sonnet 4.6 is the family's newest; this key may use only Sonnet 4.5.
    secret, _ = behind_api_gateway.store.create_key(
        "team-a", models=frozenset({SONNET_4_5.anthropic_id})
    )
    headers = {**HEADERS, "x-api-key": secret}
    response = post(behind_api_gateway.url, headers, {**BODY, "model": "sonnet"})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == SONNET_4_5.anthropic_id
    assert SONNET_4_5.anthropic_id in response.headers["warning"]
    counted = post(
        behind_api_gateway.url, headers, {**BODY, "model": "sonnet"}, "/v1/messages/count_tokens"
    )
    # Resolved to Sonnet 4.5 too (whose count_tokens Bedrock lacks), not refused with 403.
    assert SONNET_4_5.anthropic_id in refused(counted, 400, "invalid_request_error")
