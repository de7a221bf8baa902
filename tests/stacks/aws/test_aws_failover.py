"""The Vertex and fallback blocks as Lambda environment: Lambda's 4 KB limit is checked at
synthesis, counting unresolved CloudFormation values at an allowance."""

from __future__ import annotations

from stacks.aws.failover import (
    LAMBDA_ENVIRONMENT_LIMIT,
    TOKEN_ALLOWANCE,
    VertexAccess,
    environment_overflow,
    failover_environment,
)

TOKEN = "${Token[TOKEN.123]}"


def _is_token(value: str) -> bool:
    return value == TOKEN


def test_an_environment_within_4_kb_passes_and_one_over_names_its_largest_values() -> None:
    fits = {"A": "x" * (LAMBDA_ENVIRONMENT_LIMIT - 1 - TOKEN_ALLOWANCE - 1), "T": TOKEN}
    assert environment_overflow(fits, _is_token) is None
    over = {**fits, "RELAY_FALLBACKS": "y" * 10}
    message = environment_overflow(over, _is_token)
    assert message is not None
    assert "over Lambda's 4096" in message
    assert "its largest values are A, T, RELAY_FALLBACKS" in message


def test_tokens_count_at_their_allowance_not_their_placeholder_length() -> None:
    room = LAMBDA_ENVIRONMENT_LIMIT - len("T") - TOKEN_ALLOWANCE
    assert environment_overflow({"T": TOKEN, "B": "z" * (room - 1)}, _is_token) is None
    assert environment_overflow({"T": TOKEN, "B": "z" * room}, _is_token) is not None


def test_the_failover_environment_is_compact_json() -> None:
    vertex = VertexAccess("relay-example-123", "global", {"type": "external_account", "a": 1})
    env = failover_environment({"claude-haiku-4-5": ("vertex",)}, vertex)
    assert env == {
        "RELAY_VERTEX_PROJECT": "relay-example-123",
        "RELAY_VERTEX_REGION": "global",
        "RELAY_VERTEX_CREDENTIALS": '{"type":"external_account","a":1}',
        "RELAY_FALLBACKS": '{"claude-haiku-4-5":["vertex"]}',
    }
    assert failover_environment({}, None) == {}
