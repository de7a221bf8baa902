"""The API Gateway key that stands for a relay key in the usage plan.

API Gateway stores its keys readable (`get-api-key --include-value`), so the client's secret never
goes there. Instead each relay key gets a gateway key whose value is derived from the key's
SHA-256 digest: the key authorizer (lambdas/key_authorizer) computes it from the presented
secret and returns it as `usageIdentifierKey`, and `relaykit keys create --usage-plan` registers
it. The value is no credential: the gateway takes keys only from the authorizer, which checks
the secret against the relay's table first. Standard library only (it ships in the authorizer).
"""

from __future__ import annotations

import hashlib

# Domain separation: the gateway value is not the digest the table is keyed by.
_CONTEXT = b"relaykit usage-plan key v1:"


def usage_plan_key_value(digest: str) -> str:
    """The gateway key value for the relay key whose SHA-256 digest (hex) is `digest`."""
    return "rkgw-" + hashlib.sha256(_CONTEXT + digest.encode()).hexdigest()
