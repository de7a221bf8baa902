"""The pure OpenAI <-> Anthropic translation: examples, then properties (hypothesis)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from relay.catalog import DEFAULT_MODEL, MODELS, OPUS_4_6
from relay.errors import ApiError, invalid_request
from relay.openai_api import errors
from relay.openai_api.request import DEFAULT_MAX_TOKENS, REASONING, translate
from relay.openai_api.response import FINISH_REASONS, completion, finish_reason, model_object
from relay.openai_api.stream import ChunkStream
from relay.schema import MessagesRequest, parse

MODEL = DEFAULT_MODEL.alias
PNG_URL = "data:image/png;base64,iVBORw0KGgo="
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
OPENAI_FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def chat(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages) or [{"role": "user", "content": "hi"}]}


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return translate({**chat(*messages), **fields}).body


def refused(request: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as raised:
        translate(request)
    assert raised.value.status == 400
    return raised.value.message


# Requests, by example.


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    out = body(
        {"role": "system", "content": "one"},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}]},
    )
    assert out["system"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_assistant_tool_calls_become_tool_use_blocks_with_parsed_input() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    out = body(
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}],
    }


def test_consecutive_tool_messages_and_a_user_message_form_one_user_turn() -> None:
    out = body(
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling"},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "2"}]},
        {"role": "user", "content": "and?"},
    )
    assert [turn["role"] for turn in out["messages"]] == ["user", "assistant", "user"]
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": "1"},
        {"type": "tool_result", "tool_use_id": "b", "content": [{"type": "text", "text": "2"}]},
        {"type": "text", "text": "and?"},
    ]


def test_tool_call_arguments_that_are_not_a_json_object_are_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
    message = refused(chat({"role": "assistant", "tool_calls": [call]}))
    assert message.startswith("messages.0.tool_calls.0.function.arguments:")


def test_data_url_image_becomes_a_base64_image_block() -> None:
    part = {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "low"}}
    (image,) = body({"role": "user", "content": [part]})["messages"][0]["content"]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/cat.png", "cannot fetch images"),
        ("data:image/bmp;base64,AAAA", "image/bmp"),
        ("data:image/png,rawbytes", "base64 data URL"),
    ],
)
def test_images_bedrock_cannot_take_are_refused_naming_the_part(url: str, says: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    message = refused(chat({"role": "user", "content": [part]}))
    assert message.startswith("messages.0.content.0.image_url.url:")
    assert says in message


def test_a_chat_of_system_messages_only_is_refused() -> None:
    assert refused(chat({"role": "system", "content": "x"})).startswith("messages:")


def test_a_user_turn_puts_tool_results_before_text() -> None:
    out = body(
        {"role": "user", "content": "a"},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    )
    assert [block["type"] for block in out["messages"][0]["content"]] == ["tool_result", "text"]


def test_an_unsupported_role_is_refused_naming_it() -> None:
    message = refused(chat({"role": "function", "name": "f", "content": "x"}))
    assert message.startswith("messages.0.role:")


def test_a_content_part_of_an_unknown_type_is_refused_naming_the_part() -> None:
    message = refused(chat({"role": "user", "content": [{"type": "input_audio"}]}))
    assert message.startswith("messages.0.content.0")


def test_temperature_is_clamped_to_one_not_scaled() -> None:
    assert body(temperature=1.6)["temperature"] == 1.0
    assert body(temperature=0.3)["temperature"] == 0.3


def test_temperature_above_two_is_refused() -> None:
    assert refused({**chat(), "temperature": 2.5}).startswith("temperature:")


def test_stop_string_becomes_one_stop_sequence() -> None:
    assert body(stop="END")["stop_sequences"] == ["END"]


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert body(max_tokens=10, max_completion_tokens=20)["max_tokens"] == 20


def test_max_tokens_defaults_to_the_documented_value_capped_by_the_model() -> None:
    for model in MODELS:
        out = translate({**chat(), "model": model.alias}).body
        assert out["max_tokens"] == min(DEFAULT_MAX_TOKENS, model.max_output_tokens)


def test_unknown_fields_are_dropped_and_named() -> None:
    translated = translate({**chat(), "user": "alice", "seed": 7, "logprobs": True})
    assert translated.dropped == ("logprobs", "seed", "user")
    assert not {"user", "seed", "logprobs"} & set(translated.body)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_maps_to_anthropic(choice: Any, expected: dict[str, Any]) -> None:
    out = body(tools=[TOOL], tool_choice=choice)
    assert out["tool_choice"] == expected
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    out = body(tools=[TOOL], parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_requiring_a_tool_without_tools_is_refused() -> None:
    assert refused({**chat(), "tool_choice": "required"}).startswith("tool_choice:")


def test_more_than_one_choice_is_refused() -> None:
    assert refused({**chat(), "n": 3}).startswith("n:")


def test_json_schema_response_format_becomes_output_config_format() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    spec = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert body(response_format=spec)["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }
    assert "output_config" not in body(response_format={"type": "text"})


def test_json_object_response_format_asks_for_any_object() -> None:
    fmt = body(response_format={"type": "json_object"})["output_config"]["format"]
    assert fmt == {"type": "json_schema", "schema": {"type": "object"}}


def test_a_json_schema_response_format_without_a_schema_is_refused() -> None:
    spec = {"type": "json_schema", "json_schema": {"name": "x"}}
    assert refused({**chat(), "response_format": spec}).startswith("response_format.json_schema")
    assert refused({**chat(), "response_format": {"type": "yaml"}}).startswith("response_format")


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high", "xhigh"])
def test_reasoning_effort_on_a_budget_model_becomes_a_thinking_budget(effort: str) -> None:
    out = body(reasoning_effort=effort)  # Haiku 4.5: no effort, no adaptive thinking
    budget = REASONING[effort][1]
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == DEFAULT_MAX_TOKENS + budget
    assert "output_config" not in out


def test_reasoning_effort_on_an_effort_model_becomes_adaptive_thinking_and_effort() -> None:
    out = translate(
        {**chat(), "model": OPUS_4_6.alias, "reasoning_effort": "high", "max_tokens": 500}
    ).body
    assert out["thinking"] == {"type": "adaptive"}
    assert out["output_config"] == {"effort": "high"}
    assert out["max_tokens"] == 500


def test_reasoning_effort_keeps_within_the_callers_token_limit() -> None:
    out = body(reasoning_effort="high", max_completion_tokens=3000)
    assert out["thinking"]["budget_tokens"] == 2999
    assert out["max_tokens"] == 3000
    assert refused({**chat(), "reasoning_effort": "low", "max_tokens": 1000}).startswith(
        "max_completion_tokens:"
    )


def test_reasoning_effort_none_asks_for_no_thinking_and_with_temperature_is_refused() -> None:
    assert "thinking" not in body(reasoning_effort="none")
    assert refused({**chat(), "reasoning_effort": "low", "temperature": 0.2}).startswith(
        "temperature:"
    )


def test_reasoning_effort_and_a_response_format_share_output_config() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    spec = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    out = translate(
        {**chat(), "model": OPUS_4_6.alias, "reasoning_effort": "low", "response_format": spec}
    ).body
    assert out["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": schema},
    }


def test_stream_options_include_usage_is_read() -> None:
    translated = translate({**chat(), "stream": True, "stream_options": {"include_usage": True}})
    assert translated.stream
    assert translated.include_usage
    assert translated.body["stream"] is True


# Responses, by example.


def anthropic_message(content: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": DEFAULT_MODEL.anthropic_id,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 7,
            "cache_creation_input_tokens": 11,
            "output_tokens": 3,
        },
    }


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    usage = completion(anthropic_message([], "end_turn"), 0)["usage"]
    assert usage["prompt_tokens"] == 5 + 7 + 11
    assert usage["prompt_tokens_details"] == {"cached_tokens": 7, "cache_write_tokens": 11}
    assert usage["total_tokens"] == 5 + 7 + 11 + 3


def test_tool_use_reply_has_null_content_and_json_string_arguments() -> None:
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1]}}
    reply = completion(anthropic_message([tool_use], "tool_use"), 0)["choices"][0]
    assert reply["message"]["content"] is None
    assert reply["message"]["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a": [1]}'}}
    ]
    assert reply["finish_reason"] == "tool_calls"


def test_thinking_blocks_are_not_exposed() -> None:
    thinking = {"type": "thinking", "thinking": "secret plan", "signature": "s"}
    text = {"type": "text", "text": "answer"}
    reply = completion(anthropic_message([thinking, text], "end_turn"), 0)
    assert reply["choices"][0]["message"]["content"] == "answer"


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, expected: str) -> None:
    assert finish_reason(stop_reason) == expected


def test_model_object_is_created_at_the_release_date_in_the_anthropic_id() -> None:
    info = {"id": DEFAULT_MODEL.anthropic_id, "created_at": "2025-10-01T00:00:00Z"}
    assert model_object(info) == {
        "id": DEFAULT_MODEL.anthropic_id,
        "object": "model",
        "created": 1759276800,
        "owned_by": "anthropic",
    }


def test_error_event_becomes_an_openai_error_chunk() -> None:
    event = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert ChunkStream(0, False).feed(event) == [
        {"error": {"message": "busy", "type": "overloaded_error", "param": None, "code": None}}
    ]


def test_error_param_is_the_field_a_message_starts_with() -> None:
    named = errors.payload(invalid_request("max_tokens: 9 > 8"))["error"]
    assert named == {
        "message": "max_tokens: 9 > 8",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "invalid_request",
    }
    assert errors.payload(invalid_request("The body is not JSON."))["error"]["param"] is None


# Properties.

texts = st.text(min_size=1, max_size=12)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,12}", fullmatch=True)
scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
text_parts = st.builds(lambda text: {"type": "text", "text": text}, st.text(max_size=12))
image_parts = st.builds(
    lambda kind, data: {"type": "image_url", "image_url": {"url": f"data:{kind};base64,{data}"}},
    st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
    # Valid base64 (the relay now refuses data that does not decode).
    st.binary(min_size=1, max_size=9).map(lambda raw: base64.b64encode(raw).decode()),
)
tool_calls = st.builds(
    lambda call_id, name, arguments: {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    },
    st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True),
    names,
    json_objects,
)
messages = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer"]),
            "content": st.text(max_size=12) | st.lists(text_parts, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {
            "role": st.just("user"),
            "content": st.text(max_size=12) | st.lists(text_parts | image_parts, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={
            "content": st.none() | st.text(max_size=12) | st.lists(text_parts, max_size=2),
            "tool_calls": st.lists(tool_calls, max_size=2),
        },
    ),
    st.fixed_dictionaries(
        {
            "role": st.just("tool"),
            "tool_call_id": st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True),
            "content": st.text(max_size=12) | st.lists(text_parts, max_size=2),
        }
    ),
)
function_tools: st.SearchStrategy[dict[str, Any]] = st.builds(
    lambda name, description: {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": {}},
        },
    },
    names,
    st.text(max_size=10),
)


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    conversation = draw(st.lists(messages, min_size=1, max_size=6))
    if all(m["role"] in ("system", "developer") for m in conversation):
        conversation.append({"role": "user", "content": draw(texts)})
    request: dict[str, Any] = {
        "model": draw(st.sampled_from([m.alias for m in MODELS])),
        "messages": conversation,
    }
    optional = {
        "max_tokens": st.integers(1, 8192),
        "max_completion_tokens": st.integers(1, 8192),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "stop": st.text(min_size=1, max_size=5) | st.lists(texts, max_size=4),
        "n": st.just(1),
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "parallel_tool_calls": st.booleans(),
        "user": st.text(max_size=5),
        "seed": st.integers(),
    }
    for field, values in optional.items():
        if draw(st.booleans()):
            request[field] = draw(values)
    tools = draw(st.lists(function_tools, max_size=3, unique_by=lambda t: t["function"]["name"]))
    if tools:
        request["tools"] = tools
        named = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        request["tool_choice"] = draw(st.sampled_from(["none", "auto", "required", named]))
    elif draw(st.booleans()):
        request["tool_choice"] = draw(st.sampled_from(["none", "auto"]))
    return request


@given(chat_requests())
def test_any_valid_chat_request_translates_to_a_valid_messages_request(
    request: dict[str, Any],
) -> None:
    out = translate(request).body
    parsed = parse(MessagesRequest, out)
    assert parsed.model == request["model"]
    assert parsed.stream is bool(request.get("stream"))
    assert parsed.temperature is None or 0 <= parsed.temperature <= 1


@given(chat_requests())
def test_translated_turns_alternate_and_tool_results_come_first(request: dict[str, Any]) -> None:
    turns = translate(request).body["messages"]
    roles = [turn["role"] for turn in turns]
    assert all(a != b for a, b in itertools.pairwise(roles))
    for turn in turns:
        kinds = [block["type"] for block in turn["content"]]
        results = kinds.count("tool_result")
        assert kinds[:results] == ["tool_result"] * results


@given(st.lists(texts, min_size=1, max_size=4))
def test_user_text_round_trips(contents: list[str]) -> None:
    request = chat(*({"role": "user", "content": text} for text in contents))
    (turn,) = translate(request).body["messages"]
    assert [block["text"] for block in turn["content"]] == contents


@given(st.lists(texts, min_size=1, max_size=4))
def test_system_text_round_trips(contents: list[str]) -> None:
    system = [{"role": "system", "content": text} for text in contents]
    out = body(*system, {"role": "user", "content": "hi"})
    assert [block["text"] for block in out["system"]] == contents


@given(st.floats(0, 2))
def test_temperature_lands_in_anthropics_range_and_keeps_values_up_to_one(value: float) -> None:
    out = body(temperature=value)["temperature"]
    assert 0 <= out <= 1
    assert out == value or value > 1


@given(st.none() | st.text() | st.sampled_from(sorted(FINISH_REASONS)) | st.integers())
def test_finish_reason_is_total(stop_reason: Any) -> None:
    assert finish_reason(stop_reason) in OPENAI_FINISH_REASONS


blocks = st.one_of(
    st.builds(lambda text: {"type": "text", "text": text}, texts),
    st.builds(
        lambda text: {"type": "thinking", "thinking": text, "signature": "sig"},
        texts,
    ),
    st.builds(
        lambda suffix, name, arguments: {
            "type": "tool_use",
            "id": f"toolu_{suffix}",
            "name": name,
            "input": arguments,
        },
        st.from_regex(r"[a-z0-9]{4}", fullmatch=True),
        names,
        json_objects,
    ),
)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def stream_events(message: dict[str, Any], data: st.DataObject) -> list[dict[str, Any]]:
    """The events Bedrock would send for `message`, its deltas cut at drawn points."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        empty = {"text": ""} if kind == "text" else {"thinking": ""} if kind == "thinking" else {}
        opened = {**block, **empty, "input": {}} if kind == "tool_use" else {"type": kind, **empty}
        events.append({"type": "content_block_start", "index": index, "content_block": opened})
        whole = json.dumps(block["input"]) if kind == "tool_use" else block[kind]
        delta_type = {"text": "text_delta", "thinking": "thinking_delta"}.get(
            kind, "input_json_delta"
        )
        field = {"text": "text", "thinking": "thinking"}.get(kind, "partial_json")
        for piece in split(whole, data.draw(st.lists(st.integers(0, 100), max_size=4))):
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": delta_type, field: piece},
                }
            )
        events.append({"type": "content_block_stop", "index": index})
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    usage_delta = {"output_tokens": usage["output_tokens"]}
    events.append({"type": "message_delta", "delta": stop, "usage": usage_delta})
    events.append({"type": "message_stop"})
    return events


@given(
    st.lists(blocks, max_size=4),
    st.sampled_from([*FINISH_REASONS, None]),
    st.booleans(),
    st.data(),
)
def test_streamed_chunks_reassemble_to_the_non_streamed_completion(
    content: list[dict[str, Any]], stop_reason: str | None, include_usage: bool, data: Any
) -> None:
    message = anthropic_message(content, stop_reason)
    expected = ChatCompletion.model_validate(completion(message, 0)).choices[0]
    chunks = ChunkStream(0, include_usage)
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    fed = [chunk for event in stream_events(message, data) for chunk in chunks.feed(event)]
    for chunk in fed:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    # The snapshot, as get_final_completion() raises for a "length" or "content_filter" finish.
    got = state.current_completion_snapshot.choices[0]
    assert (got.message.content or None) == (expected.message.content or None)
    assert got.finish_reason == expected.finish_reason
    calls = [(c.id, c.function.name, c.function.arguments) for c in got.message.tool_calls or []]
    wanted = [
        (c.id, c.function.name, c.function.arguments)  # type: ignore[union-attr]
        for c in expected.message.tool_calls or []
    ]
    assert [(i, n, json.loads(a)) for i, n, a in calls] == [
        (i, n, json.loads(a)) for i, n, a in wanted
    ]
    if include_usage:
        assert fed[-1]["usage"] == completion(message, 0)["usage"]
    else:
        assert all("usage" not in chunk for chunk in fed)
