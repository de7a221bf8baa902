"""Property-based fuzzing of the relay's three POST endpoints over HTTP (simulator behind it):
whatever the body, the answer is never a 5xx, every error is in the API's own shape, and every
stream ends properly (message_stop, [DONE], or an error event), never cut.

Bodies are valid requests with fields replaced, dropped or added, arbitrary JSON, and raw bytes.
Derandomized, so CI runs the same ~3,500 cases every time (about a minute on 2 cores).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from relay_harness import Relay, start_relay
from relay_wire import HEADERS

from relay.catalog import DEFAULT_MODEL, MODELS
from relaykit.server_options import ServerOptions
from relaykit.simulator import SimulatorServer

PROMPT = "fuzz-canary-prompt-9d41"
# Part of every simulated reply: completion text that no log line may carry.
COMPLETION = "This reply comes from the relaykit Bedrock simulator"
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ALIASES = [m.alias for m in MODELS if m.served][:4]
scalars = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
texts = st.text(max_size=40) | st.sampled_from(["", " ", "\x00", "\u202e", "x\ud800y", "🙂" * 5])
blocks = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["text", "image", "tool_use", "tool_result", "document", "thinking", "bogus"]
        )
    },
    optional={
        "text": texts,
        "source": json_values,
        "id": texts,
        "name": texts,
        "input": json_values,
        "tool_use_id": texts,
        "content": json_values,
        "cache_control": st.just({"type": "ephemeral"}) | json_values,
    },
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "tool", ""]),
            "content": texts.map(lambda t: f"{PROMPT} {t}") | st.lists(blocks, max_size=3),
        }
    ),
    max_size=4,
)
anthropic_fields = {
    "model": st.sampled_from([*ALIASES, "", "claude-nope", DEFAULT_MODEL.anthropic_id])
    | json_values,
    "max_tokens": st.integers(-5, 200_000) | json_values,
    "messages": messages | json_values,
    "system": texts | st.lists(blocks, max_size=2) | json_values,
    "stream": st.booleans() | json_values,
    "temperature": st.floats(-1, 2) | json_values,
    "top_p": st.floats(-1, 2) | json_values,
    "top_k": st.integers(-5, 500) | json_values,
    "stop_sequences": st.lists(texts, max_size=3) | json_values,
    "tools": st.lists(
        st.fixed_dictionaries({"name": texts, "input_schema": json_values}), max_size=2
    )
    | json_values,
    "tool_choice": st.fixed_dictionaries(
        {"type": st.sampled_from(["auto", "any", "tool", "none", "x"])}
    )
    | json_values,
    "thinking": st.fixed_dictionaries(
        {
            "type": st.sampled_from(["enabled", "disabled", "adaptive"]),
            "budget_tokens": st.integers(0, 5000),
        }
    )
    | json_values,
    "metadata": json_values,
    "service_tier": json_values,
}
openai_fields = {
    "model": st.sampled_from([*ALIASES, "gpt-4o", ""]) | json_values,
    "messages": st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "x"]),
                "content": texts.map(lambda t: f"{PROMPT} {t}")
                | st.lists(
                    st.fixed_dictionaries(
                        {"type": st.sampled_from(["text", "image_url", "x"])},
                        optional={
                            "text": texts,
                            "image_url": st.fixed_dictionaries(
                                {
                                    "url": st.sampled_from(
                                        [
                                            "data:image/png;base64,iVBORw0KGgo=",
                                            "data:image/png;base64,@@",
                                            "https://x",
                                            "",
                                        ]
                                    )
                                }
                            ),
                        },
                    ),
                    max_size=2,
                )
                | json_values,
            },
            optional={"tool_call_id": texts, "tool_calls": json_values, "name": texts},
        ),
        max_size=4,
    )
    | json_values,
    "max_tokens": st.integers(-5, 100_000) | json_values,
    "max_completion_tokens": st.integers(-5, 100_000) | json_values,
    "stream": st.booleans() | json_values,
    "stream_options": st.just({"include_usage": True}) | json_values,
    "temperature": st.floats(-1, 3) | json_values,
    "n": st.integers(0, 3) | json_values,
    "tools": json_values,
    "tool_choice": json_values,
    "response_format": json_values,
    "stop": json_values,
    "user": texts,
}


def valid_anthropic() -> dict[str, Any]:
    return {
        "model": DEFAULT_MODEL.alias,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": PROMPT}],
    }


def valid_openai() -> dict[str, Any]:
    return {"model": DEFAULT_MODEL.alias, "messages": [{"role": "user", "content": PROMPT}]}


def mutated(
    base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """The valid body with some fields replaced or dropped and unknown ones added."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(base)
        for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True)):
            if draw(st.booleans()):
                body[name] = draw(fields[name])
            else:
                body.pop(name, None)
        body.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
        return body

    return build() | json_values


@pytest.fixture(scope="module")
def fuzzed(log_scan: Any) -> Iterator[tuple[Relay, httpx.Client]]:
    log_scan.forbid(PROMPT)
    log_scan.forbid(COMPLETION)
    with SimulatorServer() as simulator:
        server = start_relay(
            simulator, server_options=ServerOptions().uvicorn_config(), retry_attempts=1
        )
        try:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
                yield Relay(server.url, simulator), client
        finally:
            server.stop()


def send(client: httpx.Client, path: str, content: bytes) -> tuple[int, bytes, str]:
    headers = {"content-type": "application/json"}
    with client.stream("POST", path, content=content, headers=headers) as response:
        # Shown by --hypothesis-show-statistics: how many cases got past validation.
        event(f"status {response.status_code}")
        return response.status_code, response.read(), response.headers.get("content-type", "")


def check_anthropic(status: int, raw: bytes, media: str, path: str) -> None:
    assert status < 500, raw[:500]
    if status >= 400:
        payload = json.loads(raw)
        assert payload["type"] == "error", raw[:500]
        assert isinstance(payload["error"]["type"], str)
        assert isinstance(payload["error"]["message"], str)
    elif media.startswith("text/event-stream"):
        events = [line for line in raw.decode().splitlines() if line.startswith("event: ")]
        assert events, raw[:500]
        assert events[-1] in ("event: message_stop", "event: error"), raw[-500:]
    else:
        payload = json.loads(raw)
        key = "input_tokens" if path.endswith("count_tokens") else "type"
        assert key in payload, raw[:500]


def check_openai(status: int, raw: bytes, media: str) -> None:
    assert status < 500, raw[:500]
    if status >= 400:
        error = json.loads(raw)["error"]
        assert isinstance(error["message"], str)
        assert isinstance(error["type"], str)
    elif media.startswith("text/event-stream"):
        data = [line for line in raw.decode().splitlines() if line.startswith("data: ")]
        assert data, raw[:500]
        assert data[-1] == "data: [DONE]" or '"error"' in data[-1], raw[-500:]
    else:
        assert json.loads(raw)["object"] == "chat.completion", raw[:500]


def encode(body: Any) -> bytes:
    # Lone surrogates made by hypothesis travel as \u escapes, as a JSON client sends them.
    return json.dumps(body).encode()


@FUZZ
@given(body=mutated(valid_anthropic(), anthropic_fields))
def test_messages_fuzz(fuzzed: tuple[Relay, httpx.Client], body: Any) -> None:
    check_anthropic(*send(fuzzed[1], "/v1/messages", encode(body)), "/v1/messages")


@FUZZ
@given(body=mutated(valid_anthropic(), anthropic_fields))
def test_count_tokens_fuzz(fuzzed: tuple[Relay, httpx.Client], body: Any) -> None:
    path = "/v1/messages/count_tokens"
    check_anthropic(*send(fuzzed[1], path, encode(body)), path)


@FUZZ
@given(body=mutated(valid_openai(), openai_fields))
def test_chat_completions_fuzz(fuzzed: tuple[Relay, httpx.Client], body: Any) -> None:
    check_openai(*send(fuzzed[1], "/v1/chat/completions", encode(body)))


@settings(FUZZ, max_examples=500)
@given(
    raw=st.binary(max_size=200)
    | st.builds(
        lambda b, cut: b[:cut], st.just(json.dumps(valid_anthropic()).encode()), st.integers(0, 80)
    )
)
def test_raw_bytes_fuzz(fuzzed: tuple[Relay, httpx.Client], raw: bytes) -> None:
    check_anthropic(*send(fuzzed[1], "/v1/messages", raw), "/v1/messages")
