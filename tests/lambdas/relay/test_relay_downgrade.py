"""Budget-triggered downgrade through the simulator and the table: a key whose budget would be
exceeded at the model asked for is served by its cheaper model, then refused once that budget is
spent too, overspending by at most one request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.catalog import by_alias
from relay.keys import ApiKey
from relay.ledger import Admission
from relay.pricing import estimate_usd
from relay.usage import UsageRecord

SONNET, HAIKU = by_alias("claude-sonnet-4-5"), by_alias("claude-haiku-4-5")
MAX_TOKENS = 1000
BUDGET = Decimal("0.05")


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    # The relay's default downgrade list; keys without their own use it.
    with running_gateway(budget_downgrade=(HAIKU,), retry_attempts=1, metrics=True) as running:
        yield running


def _spend(gateway: Gateway, key: ApiKey, usd: str) -> None:
    """Spend on the key's budget as an earlier request would have."""
    record = UsageRecord(
        f"req_seed_{usd}_{datetime.now(UTC).timestamp()}", key.key_id, SONNET.anthropic_id,
        "bedrock/us-east-1", "seed", "ok", cost_usd=Decimal(usd),
    )  # fmt: skip
    gateway.store.settle(Admission(key, minute=int(time.time() // 60)), record)


def _spent(gateway: Gateway, key: ApiKey) -> Decimal:
    return gateway.store.spent(key.key_id, f"day#{datetime.now(UTC):%Y-%m-%d}")


def _ask(client: anthropic.Anthropic, text: str) -> anthropic.APIResponse[anthropic.types.Message]:
    return client.messages.with_raw_response.create(
        model=SONNET.alias, max_tokens=MAX_TOKENS, messages=user(text)
    )


def _metric_documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_a_key_at_its_budget_is_served_by_the_downgrade_then_refused(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    secret, key = gateway.store.create_key("team-d", daily_usd=BUDGET)
    client = gateway.client_for(secret)
    # Plenty left: the model asked for.
    first = _ask(client, "first")
    assert first.parse().model == SONNET.anthropic_id
    assert "x-relay-fallback" not in first.headers
    assert not any("Downgrades" in d for d in _metric_documents(capsys.readouterr().out))
    # Less left than a Sonnet request can cost: Haiku serves, and says so.
    _spend(gateway, key, "0.04")
    down = _ask(client, "second")
    assert down.parse().model == HAIKU.anthropic_id
    assert down.headers["x-relay-fallback"] == HAIKU.anthropic_id
    assert "would be exceeded at claude-sonnet-4-5" in down.headers["warning"]
    (metrics,) = [d for d in _metric_documents(capsys.readouterr().out) if "Requests" in d]
    assert metrics["Downgrades"] == [1.0]
    assert metrics["SavedUSD"][0] > 0
    # Spent: refused, as without a downgrade.
    _spend(gateway, key, "0.01")
    with pytest.raises(anthropic.RateLimitError, match="daily budget"):
        _ask(client, "third")
    downgraded = [r for r in gateway.usage_records(key.key_id, 4) if r.downgraded]
    assert len(downgraded) == 1
    assert downgraded[0].model == HAIKU.anthropic_id
    assert downgraded[0].asked_model == SONNET.anthropic_id


def test_concurrent_downgraded_requests_overspend_by_at_most_one(gateway: Gateway) -> None:
    secret, key = gateway.store.create_key("team-e", daily_usd=BUDGET)
    client = gateway.client_for(secret)
    _spend(gateway, key, "0.0449")

    def one(n: int) -> str:
        try:
            return str(_ask(client, f"spend {n}").parse().model)
        except anthropic.RateLimitError:
            return "refused"

    with ThreadPoolExecutor(20) as pool:
        served = list(pool.map(one, range(20)))
    assert SONNET.anthropic_id not in served
    assert HAIKU.anthropic_id in served
    body = {"max_tokens": MAX_TOKENS, "messages": user("spend 10")}
    assert _spent(gateway, key) <= BUDGET + estimate_usd(HAIKU, body, premium=True)


def test_a_keys_own_list_comes_before_the_relays(gateway: Gateway) -> None:
    secret, key = gateway.store.create_key(
        "team-f", daily_usd=BUDGET, downgrade=(SONNET.anthropic_id,)
    )
    _spend(gateway, key, "0.04")
    raw = gateway.client_for(secret).messages.with_raw_response.create(
        model=by_alias("claude-opus-4-6").alias, max_tokens=MAX_TOKENS, messages=user("x")
    )
    assert raw.parse().model == SONNET.anthropic_id
