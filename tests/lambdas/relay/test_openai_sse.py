"""Both SSE encoders (relay.sse for Anthropic events, the OpenAI chunk encoder) read back as
written: by the anthropic and openai SDKs' decoders and by a parser that follows the WHATWG
event-stream rules, whatever the payload and wherever the network splits the bytes."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from anthropic._streaming import SSEDecoder as AnthropicDecoder
from hypothesis import given
from hypothesis import strategies as st
from openai._streaming import SSEDecoder as OpenAIDecoder

from relay import sse
from relay.openai_api import stream

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
# An SSE field value cannot hold a line break; Anthropic event types are plain names.
event_types = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), min_size=1, max_size=20
)
events = st.builds(
    lambda kind, payload: {**payload, "type": kind},
    event_types,
    st.dictionaries(st.text(), json_values, max_size=4),
)
cuts = st.lists(st.integers(0, 10_000), max_size=6)


def pieces(data: bytes, at: list[int]) -> list[bytes]:
    """`data` as the network may deliver it: split anywhere, even inside a UTF-8 character."""
    points = sorted({0, len(data), *(a % (len(data) + 1) for a in at)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def spec_parse(text: str) -> list[tuple[str, str]]:
    """(event type, data) pairs, per the HTML standard's event-stream interpretation."""
    parsed: list[tuple[str, str]] = []
    kind, data = "", list[str]()
    for line in re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")):
        if not line:
            if data:
                parsed.append((kind or "message", "\n".join(data)))
            kind, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        value = value.removeprefix(" ") if colon else ""
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
    return parsed


@given(events, cuts)
def test_anthropic_event_reads_back_with_the_anthropic_sdk(
    event: dict[str, Any], at: list[int]
) -> None:
    (decoded,) = AnthropicDecoder().iter_bytes(iter(pieces(sse.encode(event), at)))
    assert decoded.event == event["type"]
    assert json.loads(decoded.data) == event


@given(events)
def test_anthropic_event_reads_back_with_a_spec_parser(event: dict[str, Any]) -> None:
    ((kind, data),) = spec_parse(sse.encode(event).decode())
    assert kind == event["type"]
    assert json.loads(data) == event


async def _collect(items: list[dict[str, Any]]) -> bytes:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for item in items:
            yield item

    return b"".join([chunk async for chunk in sse.encode_stream(source())])


@given(st.lists(events, max_size=5), cuts)
def test_a_stream_reads_back_in_order_with_one_ping_after_message_start(
    items: list[dict[str, Any]], at: list[int]
) -> None:
    items = [{"type": "message_start", "message": {}}, *items]
    wire = asyncio.run(_collect(items))
    decoded = list(AnthropicDecoder().iter_bytes(iter(pieces(wire, at))))
    expected = [items[0], {"type": "ping"}, *items[1:]]
    assert [json.loads(e.data) for e in decoded] == expected
    assert [e.event for e in decoded] == [e["type"] for e in expected]


@given(st.dictionaries(st.text(), json_values, max_size=5), cuts)
def test_openai_chunk_reads_back_with_the_openai_sdk(chunk: dict[str, Any], at: list[int]) -> None:
    wire = stream.encode(chunk) + stream.DONE
    decoded = list(OpenAIDecoder().iter_bytes(iter(pieces(wire, at))))
    assert [e.event for e in decoded] == [None, None]
    assert decoded[0].json() == chunk
    assert decoded[1].data == "[DONE]"


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_openai_chunk_reads_back_with_a_spec_parser(chunk: dict[str, Any]) -> None:
    ((kind, data),) = spec_parse(stream.encode(chunk).decode())
    assert kind == "message"
    assert json.loads(data) == chunk


def test_openai_chunk_with_a_lone_surrogate_is_escaped_not_lost() -> None:
    chunk = {"choices": [{"delta": {"content": "half \ud83d"}}]}
    (decoded,) = OpenAIDecoder().iter_bytes(iter([stream.encode(chunk)]))
    assert decoded.json() == chunk


def test_anthropic_event_with_a_lone_surrogate_is_escaped_not_lost() -> None:
    event = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "\ud83d"}}
    (decoded,) = AnthropicDecoder().iter_bytes(iter([sse.encode(event)]))
    assert json.loads(decoded.data) == event
