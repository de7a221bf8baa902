"""Hand API Gateway the client's API key, whichever header it came in.

The REST API's key source is AUTHORIZER: this function returns the key as `usageIdentifierKey`
and API Gateway itself checks it against the usage plan (403 if unknown, 429 over quota). It
accepts `x-api-key` (what the Anthropic SDKs send with an API key) and `Authorization: Bearer`
(what they send with an auth token, e.g. ANTHROPIC_AUTH_TOKEN). The key is never logged.
"""

from __future__ import annotations

from typing import Any


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__("Unauthorized")


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


def handler(event: dict[str, Any], _context: object) -> dict[str, Any]:
    key = api_key_from(event.get("headers"))
    if key is None:
        raise Unauthorized
    return {
        "principalId": "api-key",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "usageIdentifierKey": key,
    }
