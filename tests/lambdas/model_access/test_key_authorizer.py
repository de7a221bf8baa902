"""The key authorizer admits only keys the relay's table knows (moto DynamoDB, the table made by
`relaykit`'s own create_table and keys made by the relay's own DynamoStore), and hands API
Gateway a derived usage-plan key, never the client's secret."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from key_authorizer.handler import Unauthorized, api_key_from, authorize
from moto import mock_aws

from relay.dynamo import DynamoStore
from relay.gateway_key import usage_plan_key_value
from relay.settings import key_digest
from relaykit.table import create_table

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/v1/messages"
TABLE = "relay-keys"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb")
        create_table(client, TABLE)
        yield client


def _event(headers: dict[str, str]) -> dict[str, Any]:
    return {"headers": headers, "methodArn": METHOD_ARN}


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"x-api-key": "k1"}, "k1"),
        ({"X-Api-Key": "k1"}, "k1"),
        ({"Authorization": "Bearer k2"}, "k2"),
        ({"authorization": "bearer  k2 "}, "k2"),
        ({"x-api-key": "k1", "Authorization": "Bearer k2"}, "k1"),
        ({"Authorization": "Basic abc"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_key_is_taken_from_either_header(headers: dict[str, str] | None, key: str | None) -> None:
    assert api_key_from(headers) == key


def test_a_known_key_is_allowed_with_its_derived_usage_plan_key(table: Any) -> None:
    secret, key = DynamoStore(table, TABLE).create_key("team")
    result = authorize(_event({"Authorization": f"Bearer {secret}"}), table, TABLE, NOW)
    assert result["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": METHOD_ARN,
    }
    assert result["usageIdentifierKey"] == usage_plan_key_value(key_digest(secret))
    assert secret not in str(result)
    assert key_digest(secret) not in str(result)
    assert result["principalId"] == key.key_id


def test_no_key_is_401(table: Any) -> None:
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        authorize(_event({}), table, TABLE, NOW)


def test_a_key_the_table_does_not_know_is_401(table: Any) -> None:
    DynamoStore(table, TABLE).create_key("team")
    with pytest.raises(Unauthorized):
        authorize(_event({"x-api-key": "sk-relay-not-issued"}), table, TABLE, NOW)


def test_a_revoked_key_is_denied(table: Any) -> None:
    store = DynamoStore(table, TABLE)
    secret, key = store.create_key("team")
    store.set_disabled(key.key_id)
    result = authorize(_event({"x-api-key": secret}), table, TABLE, NOW)
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "usageIdentifierKey" not in result


def test_an_expired_key_is_denied(table: Any) -> None:
    secret, _ = DynamoStore(table, TABLE).create_key("team", valid_until=NOW - timedelta(days=1))
    result = authorize(_event({"x-api-key": secret}), table, TABLE, NOW)
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_usage_plan_key_values_differ_per_key_and_from_the_digest() -> None:
    first, second = key_digest("sk-relay-a"), key_digest("sk-relay-b")
    assert usage_plan_key_value(first) != usage_plan_key_value(second)
    assert first not in usage_plan_key_value(first)
    # API Gateway takes key values of 20 to 128 characters.
    assert 20 <= len(usage_plan_key_value(first)) <= 128
