"""The key authorizer accepts x-api-key and Authorization: Bearer, and nothing else."""

from __future__ import annotations

import pytest
from key_authorizer.handler import Unauthorized, api_key_from, handler

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/v1/messages"


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


def test_the_key_becomes_the_usage_identifier_for_api_gateway_to_check() -> None:
    result = handler({"headers": {"Authorization": "Bearer k2"}, "methodArn": METHOD_ARN}, None)
    assert result["usageIdentifierKey"] == "k2"
    assert result["policyDocument"]["Statement"][0]["Resource"] == METHOD_ARN


def test_no_key_is_401() -> None:
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        handler({"headers": {}, "methodArn": METHOD_ARN}, None)
