"""Admit a request at API Gateway only with a key the relay's table knows.

The REST API's key source is AUTHORIZER. This function takes the key from `x-api-key` (what the
Anthropic SDKs send with an API key) or `Authorization: Bearer` (an auth token, e.g.
ANTHROPIC_AUTH_TOKEN), looks up its SHA-256 digest in the relay's key table (one GetItem,
read-only on that table), and:

- no key, or a key the table does not know: 401 (raises "Unauthorized");
- a revoked or expired key: an explicit Deny, which API Gateway answers 403;
- otherwise: Allow, with `usageIdentifierKey` the key's derived usage-plan key
  (relay/gateway_key.py), so the usage plan throttles and caps it; the client's secret is never
  an API Gateway key. A key not registered in the plan gets API Gateway's 403 INVALID_API_KEY.

The table layout is relay/dynamo.py's (`pk = key#<digest>`, `sk = key`). The key is never logged.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from relay.gateway_key import usage_plan_key_value


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__("Unauthorized")


class KeyTable(Protocol):
    """The part of the boto3 DynamoDB client used here."""

    def get_item(self, **kwargs: Any) -> dict[str, Any]: ...


def api_key_from(headers: dict[str, str] | None) -> str | None:
    """The key from `x-api-key`, else from `Authorization: Bearer <key>`."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    key = lowered.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _usable(item: dict[str, Any], now: datetime) -> bool:
    if item.get("disabled", {}).get("BOOL", False):
        return False
    valid_until = item.get("valid_until", {}).get("S")
    return valid_until is None or datetime.fromisoformat(valid_until) > now


def _policy(effect: str, resource: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def authorize(
    event: dict[str, Any], table: KeyTable, table_name: str, now: datetime
) -> dict[str, Any]:
    secret = api_key_from(event.get("headers"))
    if secret is None:
        raise Unauthorized
    digest = hashlib.sha256(secret.encode()).hexdigest()
    item = table.get_item(
        TableName=table_name,
        Key={"pk": {"S": f"key#{digest}"}, "sk": {"S": "key"}},
        ProjectionExpression="key_id, disabled, valid_until",
    ).get("Item")
    if item is None:
        raise Unauthorized
    key_id = item["key_id"]["S"]
    if not _usable(item, now):
        return {"principalId": key_id, "policyDocument": _policy("Deny", event["methodArn"])}
    return {
        "principalId": key_id,
        "policyDocument": _policy("Allow", event["methodArn"]),
        "usageIdentifierKey": usage_plan_key_value(digest),
        "context": {"keyId": key_id},
    }


_table: KeyTable | None = None


def handler(event: dict[str, Any], _context: object) -> dict[str, Any]:
    global _table
    if _table is None:
        import boto3  # the runtime's; created once per instance

        _table = cast(KeyTable, boto3.client("dynamodb"))
    return authorize(event, _table, os.environ["RELAY_TABLE_NAME"], datetime.now(UTC))
