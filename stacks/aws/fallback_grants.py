"""The IAM statements for the Bedrock routes of `relaykit.fallbacks` (stacks/aws/failover.py),
beside the primary route's: the relay role may invoke each "bedrock:" step it may fail over to."""

from __future__ import annotations

import dataclasses

from relay.targets import BedrockTarget
from stacks.aws.bedrock_grants import InvokeStatement, invoke_statements


def fallback_statements(
    targets: tuple[BedrockTarget, ...], account: str
) -> tuple[InvokeStatement, ...]:
    """The statements invoking the fallback routes, their Sids apart from the primary's (the
    same model through the same global profile from another region would repeat them)."""
    return tuple(
        dataclasses.replace(statement, sid=f"Fallback{i}{statement.sid}")
        for i, target in enumerate(targets)
        for statement in invoke_statements([target], account, count_tokens=False)
    )
