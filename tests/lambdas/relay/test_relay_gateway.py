"""Keys, limits, budgets, metering and the response cache, end to end over HTTP with the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anthropic
import httpx
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import DEFAULT_MODEL, MODELS
from relay.usage import UsageRecord
from relaykit.simulator import SimulatorConfig

MODEL = DEFAULT_MODEL.alias
MODEL_ID = DEFAULT_MODEL.anthropic_id


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    # Paced streams, so a client can leave in the middle of one.
    with running_gateway(SimulatorConfig(tokens_per_second=40), retry_attempts=1) as running:
        yield running


def records(gateway: Gateway, key_id: str, expected: int) -> list[UsageRecord]:
    return gateway.usage_records(key_id, expected)


def test_an_issued_key_is_accepted_and_its_request_recorded(gateway) -> None:
    secret, key = gateway.store.create_key("team-a")
    message = gateway.client_for(secret).messages.create(
        model=MODEL, max_tokens=20, messages=user("hi")
    )
    (record,) = records(gateway, key.key_id, 1)
    assert record.status == "ok"
    assert record.model == DEFAULT_MODEL.anthropic_id
    assert record.output_tokens == message.usage.output_tokens
    assert record.cost_usd > 0
    assert record.backend == "bedrock/us-east-1"


def test_a_revoked_key_is_refused_with_permission_error(gateway) -> None:
    secret, key = gateway.store.create_key("team-a")
    gateway.store.set_disabled(key.key_id)
    client = gateway.client_for(secret)
    # The relay trusts a looked-up key for a few seconds; a fresh relay process would not.
    with pytest.raises(anthropic.PermissionDeniedError, match="revoked"):
        client.messages.create(model=MODEL, max_tokens=5, messages=user("x"))


def test_an_expired_key_is_refused(gateway) -> None:
    secret, _ = gateway.store.create_key(
        "team-a", valid_until=datetime.now(UTC) - timedelta(days=1)
    )
    with pytest.raises(anthropic.PermissionDeniedError, match="expired"):
        gateway.client_for(secret).messages.create(model=MODEL, max_tokens=5, messages=user("x"))


def test_a_model_outside_the_keys_list_is_refused(gateway) -> None:
    other = next(m for m in MODELS if m.served and m is not DEFAULT_MODEL)
    secret, _ = gateway.store.create_key("team-a", models=frozenset({other.anthropic_id}))
    before = gateway.reached_backend()
    with pytest.raises(anthropic.PermissionDeniedError, match="may not use"):
        gateway.client_for(secret).messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert gateway.reached_backend() == before


def test_models_a_key_may_not_use_are_not_listed_for_it(gateway) -> None:
    secret, _ = gateway.store.create_key("team-a", models=frozenset({MODEL_ID}))
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    listed = httpx.get(f"{gateway.url}/v1/models", headers=headers).json()["data"]
    assert [m["id"] for m in listed] == [MODEL_ID]
    other = next(m for m in MODELS if m.served and m is not DEFAULT_MODEL)
    hidden = httpx.get(f"{gateway.url}/v1/models/{other.alias}", headers=headers)
    assert hidden.status_code == 404
    openai_listed = httpx.get(f"{gateway.url}/v1/models", headers={"x-api-key": secret}).json()
    assert [m["id"] for m in openai_listed["data"]] == [MODEL_ID]


def test_requests_per_minute_give_429_with_retry_after_and_ratelimit_headers(gateway) -> None:
    secret, _ = gateway.store.create_key("team-a", rpm=2)
    client = gateway.client_for(secret)
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "2"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "1"
    client.messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=5, messages=user("x"))
    assert 1 <= int(raised.value.response.headers["retry-after"]) <= 60


def test_a_spent_daily_budget_gives_429_until_tomorrow(gateway) -> None:
    secret, key = gateway.store.create_key("team-a", daily_usd=Decimal("0.000001"))
    client = gateway.client_for(secret)
    client.messages.create(model=MODEL, max_tokens=50, messages=user("spend"))
    with pytest.raises(anthropic.RateLimitError, match="daily budget"):
        client.messages.create(model=MODEL, max_tokens=50, messages=user("spend"))
    assert len(records(gateway, key.key_id, 1)) == 1


def test_streamed_requests_are_metered_like_plain_ones(gateway) -> None:
    secret, key = gateway.store.create_key("team-a", daily_usd=Decimal(5))
    client = gateway.client_for(secret)
    plain = client.messages.create(model=MODEL, max_tokens=60, messages=user("same request"))
    with client.messages.stream(model=MODEL, max_tokens=60, messages=user("same request")) as s:
        streamed = s.get_final_message()
    first, second = sorted(records(gateway, key.key_id, 2), key=lambda r: r.stream)
    assert (first.stream, second.stream) == (False, True)
    assert first.cost_usd == second.cost_usd > 0
    assert plain.usage.output_tokens == streamed.usage.output_tokens == second.output_tokens
    assert second.ttft_ms is not None
    spent = gateway.store.spent(key.key_id, f"day#{datetime.now(UTC):%Y-%m-%d}")
    assert spent == first.cost_usd + second.cost_usd


def test_a_client_that_leaves_mid_stream_is_still_charged(gateway) -> None:
    secret, key = gateway.store.create_key("team-a")
    body = {"model": MODEL, "max_tokens": 200, "stream": True, "messages": user("leave early")}
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", headers=headers, json=body) as response:
        for line in response.iter_lines():
            if line == "event: content_block_delta":
                break  # leaving closes the connection
    (record,) = records(gateway, key.key_id, 1)
    assert record.status == "client_disconnected"
    assert record.input_tokens > 0
    assert record.output_tokens > 0
    assert record.cost_usd > 0


def test_a_mid_stream_failure_is_recorded_with_its_error(gateway) -> None:
    secret, key = gateway.store.create_key("team-a")
    gateway.simulator.state.faults.inject(["mid_stream_internal"])
    with (
        pytest.raises(anthropic.APIStatusError),
        gateway.client_for(secret).messages.stream(
            model=MODEL, max_tokens=50, messages=user("x")
        ) as stream,
    ):
        stream.until_done()
    (record,) = records(gateway, key.key_id, 1)
    assert record.status.endswith("InternalServerException")


def test_a_failed_call_releases_its_budget_reservation(gateway) -> None:
    secret, key = gateway.store.create_key("team-a", daily_usd=Decimal(1))
    gateway.simulator.state.faults.inject(["internal"])
    with pytest.raises(anthropic.InternalServerError):
        gateway.client_for(secret).messages.create(model=MODEL, max_tokens=50, messages=user("x"))
    (record,) = records(gateway, key.key_id, 1)
    assert record.cost_usd == 0
    assert gateway.store.spent(key.key_id, f"day#{datetime.now(UTC):%Y-%m-%d}") == 0


def test_cache_opted_in_by_header_serves_the_second_call_for_free(gateway) -> None:
    secret, key = gateway.store.create_key("team-a")
    client = gateway.client_for(secret, default_headers={"x-relay-cache": "on"})
    first = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=30, messages=user("cache me")
    )
    reached = gateway.reached_backend()
    second = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=30, messages=user("cache me")
    )
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.parse().content == first.parse().content
    assert gateway.reached_backend() == reached
    hit = next(r for r in records(gateway, key.key_id, 2) if r.cached)
    assert hit.cost_usd == 0
    assert hit.status == "cached"


def test_cache_is_off_unless_asked(gateway) -> None:
    secret, _ = gateway.store.create_key("team-a")
    raw = gateway.client_for(secret).messages.with_raw_response.create(
        model=MODEL, max_tokens=10, messages=user("no cache")
    )
    assert "x-cache" not in raw.headers


def test_a_key_can_opt_in_to_the_cache_for_all_its_requests(gateway) -> None:
    secret, _ = gateway.store.create_key("team-a", cache=True)
    client = gateway.client_for(secret)
    client.messages.create(model=MODEL, max_tokens=10, messages=user("key cache"))
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=10, messages=user("key cache")
    )
    assert raw.headers["x-cache"] == "hit"


def test_a_key_never_sees_another_keys_cached_reply(gateway) -> None:
    headers = {"x-relay-cache": "on"}
    secret_a, _ = gateway.store.create_key("team-a")
    secret_b, key_b = gateway.store.create_key("team-b")
    first = gateway.client_for(secret_a, default_headers=headers).messages.create(
        model=MODEL, max_tokens=30, messages=user("what did team a ask")
    )
    raw = gateway.client_for(secret_b, default_headers=headers).messages.with_raw_response.create(
        model=MODEL, max_tokens=30, messages=user("what did team a ask")
    )
    assert raw.headers["x-cache"] == "miss"
    assert raw.parse().id != first.id
    (record,) = records(gateway, key_b.key_id, 1)
    assert record.cost_usd > 0


def test_keys_of_one_cache_group_share_replies(gateway) -> None:
    headers = {"x-relay-cache": "on"}
    secret_a, _ = gateway.store.create_key("team-a", cache_group="docs-bot")
    secret_b, _ = gateway.store.create_key("team-b", cache_group="docs-bot")
    first = gateway.client_for(secret_a, default_headers=headers).messages.create(
        model=MODEL, max_tokens=30, messages=user("shared question")
    )
    raw = gateway.client_for(secret_b, default_headers=headers).messages.with_raw_response.create(
        model=MODEL, max_tokens=30, messages=user("shared question")
    )
    assert raw.headers["x-cache"] == "hit"
    assert raw.parse().id == first.id
