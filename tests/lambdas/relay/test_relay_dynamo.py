"""Keys, limits, budgets and usage records in DynamoDB (moto), including under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from relay.dynamo import (
    KEY_CACHE_ENTRIES,
    KEY_CACHE_SECONDS,
    UNKNOWN_KEY_CACHE_SECONDS,
    DynamoStore,
    _key_item,
)
from relay.errors import ApiError, ErrorType
from relay.keys import ApiKey, KeyCache
from relay.settings import key_digest
from relay.usage import UsageRecord
from relaykit.local_aws import LocalAws
from relaykit.table import create_table

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    # A moto server rather than mock_aws: the concurrency test needs real parallel clients.
    with LocalAws() as local:
        yield local


@pytest.fixture
def store(aws: LocalAws, request) -> DynamoStore:
    client = aws.session().client("dynamodb", endpoint_url=aws.endpoint_url)
    table = f"relay-{request.node.name[:40]}"
    create_table(client, table)
    return DynamoStore(client, table, clock=lambda: NOW)


def record(key: ApiKey, request_id: str, cost: str, tokens: int = 10) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        key_id=key.key_id,
        model="claude-haiku-4-5-20251001",
        backend="bedrock/us-east-1",
        model_id="global.x",
        status="200",
        input_tokens=tokens,
        cost_usd=Decimal(cost),
        at=datetime.fromtimestamp(NOW, UTC),
    )


def test_a_created_key_is_found_by_the_digest_of_its_secret(store) -> None:
    secret, key = store.create_key("team-a", rpm=10, daily_usd=Decimal("2.5"))
    assert secret.startswith("sk-relay-")
    found = store.find(key_digest(secret))
    assert found == key
    assert store.find(key_digest("sk-relay-unknown")) is None


def test_the_secret_itself_is_not_stored(store) -> None:
    secret, _ = store.create_key("team-a")
    items = store._client.scan(TableName=store._table)["Items"]
    assert secret not in repr(items)


def test_disabling_a_key_takes_effect_for_new_lookups(store) -> None:
    secret, key = store.create_key("team-a")
    store.set_disabled(key.key_id)
    found = store.find(key_digest(secret))
    assert found is not None
    assert found.disabled


def test_list_keys_returns_every_key(store) -> None:
    store.create_key("b")
    store.create_key("a")
    assert [k.owner for k in store.list_keys()] == ["a", "b"]


def test_requests_per_minute_are_enforced_with_headers(store) -> None:
    _, key = store.create_key("team-a", rpm=2)
    first = store.admit(key, Decimal(0))
    assert first.headers["anthropic-ratelimit-requests-remaining"] == "1"
    store.admit(key, Decimal(0))
    with pytest.raises(ApiError) as raised:
        store.admit(key, Decimal(0))
    assert raised.value.type is ErrorType.RATE_LIMIT
    assert raised.value.headers["retry-after"] == "30"
    assert "2 requests" in raised.value.message


def test_tokens_per_minute_count_after_settlement(store) -> None:
    _, key = store.create_key("team-a", tpm=100)
    admission = store.admit(key, Decimal(0))
    store.settle(admission, record(key, "req_1", "0", tokens=150))
    with pytest.raises(ApiError, match="100 tokens"):
        store.admit(key, Decimal(0))


def test_budget_reservation_is_replaced_by_the_real_cost(store) -> None:
    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.30"))
    assert store.spent(key.key_id, "day#2026-11-26") == Decimal("0.30")
    store.settle(admission, record(key, "req_1", "0.05"))
    assert store.spent(key.key_id, "day#2026-11-26") == Decimal("0.05")
    assert store.spent(key.key_id, "month#2026-11") == Decimal(0)


def test_a_spent_budget_refuses_until_the_next_day(store) -> None:
    _, key = store.create_key("team-a", daily_usd=Decimal("0.10"))
    store.settle(store.admit(key, Decimal("0.2")), record(key, "req_1", "0.2"))
    with pytest.raises(ApiError) as raised:
        store.admit(key, Decimal("0.01"))
    assert "daily budget" in raised.value.message
    assert int(raised.value.headers["retry-after"]) == 12 * 3600 - 30


def test_monthly_budget_is_enforced_too(store) -> None:
    _, key = store.create_key("team-a", daily_usd=Decimal(10), monthly_usd=Decimal("0.1"))
    store.settle(store.admit(key, Decimal("0.2")), record(key, "req_1", "0.2"))
    with pytest.raises(ApiError, match="monthly budget"):
        store.admit(key, Decimal("0.01"))


def test_settling_twice_keeps_one_usage_record(store) -> None:
    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.3"))
    store.settle(admission, record(key, "req_1", "0.1"))
    store.settle(admission, record(key, "req_1", "0.1"))
    assert [r.request_id for r in store.usage(key.key_id)] == ["req_1"]
    assert store.spent(key.key_id, "day#2026-11-26") == Decimal("0.1")


def test_fifty_concurrent_requests_overspend_by_at_most_one_request(store) -> None:
    budget, cost = Decimal("1.00"), Decimal("0.07")
    _, key = store.create_key("team-a", daily_usd=budget)

    def one(n: int) -> bool:
        try:
            admission = store.admit(key, cost)
        except ApiError:
            return False
        store.settle(admission, record(key, f"req_{n}", str(cost)))
        return True

    with ThreadPoolExecutor(50) as pool:
        admitted = sum(pool.map(one, range(50)))
    spent = store.spent(key.key_id, "day#2026-11-26")
    assert spent == admitted * cost
    assert budget <= spent <= budget + cost
    assert len(store.usage(key.key_id)) == admitted


def test_the_response_cache_expires(store) -> None:
    store.remember("abc", {"id": "msg_1"}, ttl_seconds=60)
    assert store.cached("abc") == {"id": "msg_1"}
    later = DynamoStore(store._client, store._table, clock=lambda: NOW + 61)
    assert later.cached("abc") is None


def test_a_tripped_breaker_is_seen_by_another_instance_until_it_expires(store) -> None:
    store.trip("bedrock/us-east-1", 30)
    other = DynamoStore(store._client, store._table, clock=lambda: NOW + 1)
    assert other.is_open("bedrock/us-east-1")
    assert not other.is_open("bedrock/us-west-2")
    later = DynamoStore(store._client, store._table, clock=lambda: NOW + 31)
    assert not later.is_open("bedrock/us-east-1")


class Ticks:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def test_the_key_cache_is_bounded_and_keeps_the_keys_in_use(store) -> None:
    small = DynamoStore(store._client, store._table, key_cache=KeyCache(capacity=20, ttl=60))
    secret, key = store.create_key("team-a")
    for n in range(30):
        assert small.find(key_digest(secret)) == key
        small.find(key_digest(f"sk-relay-made-up-{n}"))
    assert len(small._keys) == 20
    assert small._keys.get(key_digest(secret)) == (True, key)


def test_the_default_key_cache_has_a_bound() -> None:
    assert DynamoStore(None, "t")._keys._capacity == KEY_CACHE_ENTRIES  # type: ignore[arg-type]


def test_an_unknown_key_is_forgotten_quickly_and_a_known_one_kept(store) -> None:
    ticks = Ticks()
    fresh = DynamoStore(store._client, store._table, clock=ticks)
    secret = "sk-relay-issued-a-moment-later"
    assert fresh.find(key_digest(secret)) is None
    # Issued after the failed lookup: found as soon as the short negative entry lapses.
    _, key = store.create_key("team-a")
    digest = key_digest(secret)
    store._client.put_item(TableName=store._table, Item={**_key_item(digest, key)})
    ticks.now += UNKNOWN_KEY_CACHE_SECONDS + 0.01
    assert fresh.find(digest) == key
    store._client.delete_item(
        TableName=store._table, Key={"pk": {"S": f"key#{digest}"}, "sk": {"S": "key"}}
    )
    ticks.now += KEY_CACHE_SECONDS - 1
    assert fresh.find(digest) == key  # still trusted
    ticks.now += 2
    assert fresh.find(digest) is None


# The embedded AWS's transactions (local mode): DynamoDB's semantics, without copying tables.


def test_a_settlement_copies_no_table(store, monkeypatch) -> None:
    import moto.dynamodb.models as moto_dynamodb

    copied: list[str] = []
    deepcopy = moto_dynamodb.copy.deepcopy

    def counting(value: object, *args: object) -> object:
        copied.append(type(value).__name__)
        return deepcopy(value, *args)  # type: ignore[call-arg]

    monkeypatch.setattr(moto_dynamodb.copy, "deepcopy", counting)
    _, key = store.create_key("team-a", tpm=1000, daily_usd=Decimal(1))
    store.settle(store.admit(key, Decimal("0.3")), record(key, "req_1", "0.1"))
    assert "Table" not in copied


def test_a_cancelled_transaction_writes_nothing(store) -> None:
    client, table = store._client, store._table
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "x"}})
    with pytest.raises(client.exceptions.TransactionCanceledException) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "x"}},
                        "UpdateExpression": "SET n = :one",
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    reasons = raised.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {"pk": {"S": "a"}, "sk": {"S": "x"}}
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "b"}, "sk": {"S": "x"}})
    assert (
        "n"
        not in client.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "x"}})["Item"]
    )
