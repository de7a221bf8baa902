"""A Chat Completions request translated into an Anthropic Messages request. Pure: no I/O.

The translation checks the OpenAI shape (types, roles, content parts) and refuses what the
Messages API on Bedrock cannot honour; the relay's Messages validation then checks the result as
it checks any Anthropic request (model, max_tokens against the model's limit, ...).

Choices (the README's "OpenAI compatibility" section lists them for users):
- system and developer messages, wherever they stand, become `system` text blocks, in order;
- consecutive messages of one Anthropic role merge into one turn, so `tool` messages (each a
  tool_result) and a following user message form one user turn, results first;
- `temperature` is clamped to Anthropic's 0..1, not scaled: both APIs default to 1 and clients
  mostly send values in 0..1, which then keep their meaning;
- without `max_tokens`/`max_completion_tokens`, DEFAULT_MAX_TOKENS capped by the model's limit:
  Bedrock reserves quota for max_tokens up front, so the model's full limit would throttle early.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay.catalog import UnknownModelError, resolve
from relay.errors import ApiError, invalid_request

Block = dict[str, Any]

DEFAULT_MAX_TOKENS = 4096
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class _Open(BaseModel):
    """Unknown keys are allowed (and not forwarded): OpenAI adds fields often."""

    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Open):
    type: Literal["text"]
    text: str


class RefusalPart(_Open):
    type: Literal["refusal"]
    refusal: str


class ImageUrl(_Open):
    url: str


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageUrl


UserPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class SystemMessage(_Open):
    content: str | list[TextPart]


class UserMessage(_Open):
    content: str | list[UserPart]


class FunctionCall(_Open):
    name: Annotated[str, Field(min_length=1)]
    arguments: str


class ToolCall(_Open):
    id: Annotated[str, Field(min_length=1)]
    type: Literal["function"] = "function"
    function: FunctionCall


class AssistantMessage(_Open):
    content: str | list[AssistantPart] | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(_Open):
    tool_call_id: Annotated[str, Field(min_length=1)]
    content: str | list[TextPart]


class FunctionDefinition(_Open):
    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    parameters: dict[str, Any] | None = None


class FunctionTool(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(_Open):
    name: Annotated[str, Field(min_length=1)]


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: FunctionName


class StreamOptions(_Open):
    include_usage: bool | None = None


class ResponseFormat(_Open):
    type: str


class ChatRequest(_Open):
    """The body of POST /v1/chat/completions, as far as the relay reads it."""

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[dict[str, Any]], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2, strict=False)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1, strict=False)] | None = None
    stop: str | list[str] | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


# Read by the translation; any other top-level field is dropped and its name logged.
READ = frozenset(ChatRequest.model_fields)


@dataclass(frozen=True)
class Translated:
    """The Anthropic Messages request, and what the response side needs to know."""

    body: dict[str, Any]
    stream: bool
    include_usage: bool
    dropped: tuple[str, ...]


def translate(body: object) -> Translated:
    """A Chat Completions body as an Anthropic Messages body, or an invalid_request ApiError."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", "body_not_object")
    chat = _parse(ChatRequest, body, "")
    _refuse_unsupported(chat)
    system, turns = conversation(chat.messages)
    out: dict[str, Any] = {"model": chat.model, "max_tokens": max_tokens(chat), "messages": turns}
    if system:
        out["system"] = system
    if chat.temperature is not None:
        out["temperature"] = min(chat.temperature, 1.0)
    if chat.top_p is not None:
        out["top_p"] = chat.top_p
    stops = [chat.stop] if isinstance(chat.stop, str) else chat.stop
    if stops:
        out["stop_sequences"] = stops
    if chat.stream:
        out["stream"] = True
    out.update(tools(chat))
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    dropped = tuple(sorted(name for name in body if name not in READ))
    return Translated(out, bool(chat.stream), include_usage, dropped)


def _refuse_unsupported(chat: ChatRequest) -> None:
    if chat.n is not None and chat.n > 1:
        raise invalid_request(
            f"n: {chat.n} choices were asked for; this relay returns one choice per request "
            "(send n=1 or several requests)",
            "n_unsupported",
        )
    if chat.response_format is not None and chat.response_format.type != "text":
        raise invalid_request(
            f"response_format: '{chat.response_format.type}' is not supported by this relay; "
            "describe the format in the prompt, or define a tool whose parameters are the schema",
            "response_format_unsupported",
        )


def max_tokens(chat: ChatRequest) -> int:
    asked = chat.max_tokens if chat.max_completion_tokens is None else chat.max_completion_tokens
    if asked is not None:
        return asked
    try:
        limit = resolve(chat.model).model.max_output_tokens
    except UnknownModelError:
        limit = DEFAULT_MAX_TOKENS  # the Messages validation refuses the name itself
    return min(DEFAULT_MAX_TOKENS, limit)


def conversation(messages: list[dict[str, Any]]) -> tuple[list[Block], list[dict[str, Any]]]:
    """The system blocks and the alternating user/assistant turns of a chat."""
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_texts(_parse(SystemMessage, message, where).content))
            continue
        if role == "user":
            turn_role, blocks = "user", _user_blocks(_parse(UserMessage, message, where), where)
        elif role == "assistant":
            assistant = _parse(AssistantMessage, message, where)
            turn_role, blocks = "assistant", _assistant_blocks(assistant, where)
        elif role == "tool":
            turn_role, blocks = "user", [_tool_result(_parse(ToolMessage, message, where))]
        else:
            raise invalid_request(
                f"{where}.role: {role!r} is not supported; use system, developer, user, "
                "assistant or tool",
                "unsupported_role",
            )
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    if not turns:
        raise invalid_request(
            "messages: at least one user message is needed besides system messages",
            "no_messages",
        )
    for turn in turns:
        # The Messages API wants a user turn's tool results before its other content.
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return system, turns


def _texts(content: str | list[TextPart]) -> list[Block]:
    """Text blocks; empty texts are left out, as the Messages API refuses empty text blocks."""
    texts = [content] if isinstance(content, str) else [part.text for part in content]
    return [{"type": "text", "text": text} for text in texts if text]


def _user_blocks(message: UserMessage, where: str) -> list[Block]:
    if isinstance(message.content, str):
        return _texts(message.content)
    blocks: list[Block] = []
    for index, part in enumerate(message.content):
        if isinstance(part, TextPart):
            blocks.extend(_texts(part.text))
        else:
            blocks.append(image(part.image_url.url, f"{where}.content.{index}.image_url.url"))
    return blocks


def image(url: str, where: str) -> Block:
    """An image block from a data URL. Bedrock cannot fetch URLs, so http(s) ones are refused."""
    if url.startswith(("http://", "https://")):
        raise invalid_request(
            f"{where}: Amazon Bedrock cannot fetch images from URLs; send the image inline as a "
            "data URL (data:image/png;base64,...)",
            "image_url_unsupported",
        )
    header, comma, data = url.partition(",")
    params = header.removeprefix("data:").split(";")
    media_type = params[0].lower()
    if not (url.startswith("data:") and comma and data and params[-1] == "base64"):
        raise invalid_request(f"{where}: expected a base64 data URL of an image", "bad_image_url")
    if media_type not in IMAGE_TYPES:
        raise invalid_request(
            f"{where}: image type '{media_type}' is not supported; use {', '.join(IMAGE_TYPES)}",
            "bad_image_type",
        )
    try:
        # Checked here: Bedrock would refuse it only after the request was admitted and billed.
        base64.b64decode(data, validate=True)
    except binascii.Error:
        raise invalid_request(
            f"{where}: the data URL is not valid base64", "bad_image_data"
        ) from None
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _assistant_blocks(message: AssistantMessage, where: str) -> list[Block]:
    content = message.content or []
    if isinstance(content, str):
        blocks = _texts(content)
    else:
        texts = [p.text if isinstance(p, TextPart) else p.refusal for p in content]
        blocks = [{"type": "text", "text": text} for text in texts if text]
    for index, call in enumerate(message.tool_calls or []):
        arguments = _arguments(call.function.arguments, f"{where}.tool_calls.{index}")
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.function.name, "input": arguments}
        )
    return blocks


def _arguments(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise invalid_request(
            f"{where}.function.arguments: must be a JSON object, as a string", "bad_arguments"
        )
    return value


def _tool_result(message: ToolMessage) -> Block:
    content: str | list[Block] = (
        message.content if isinstance(message.content, str) else _texts(message.content)
    )
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}


def tools(chat: ChatRequest) -> dict[str, Any]:
    """`tools` and `tool_choice` for the Messages body (nothing when the chat has no tools)."""
    choice = chat.tool_choice
    if not chat.tools:
        if choice == "required" or isinstance(choice, NamedToolChoice):
            raise invalid_request(
                "tool_choice: a tool can only be required when tools are given", "tool_choice"
            )
        return {}
    out: dict[str, Any] = {"tools": [_tool(tool.function) for tool in chat.tools]}
    if choice == "none":
        out["tool_choice"] = {"type": "none"}
        return out
    if isinstance(choice, NamedToolChoice):
        anthropic_choice: dict[str, Any] = {"type": "tool", "name": choice.function.name}
    elif choice == "required":
        anthropic_choice = {"type": "any"}
    elif choice == "auto" or chat.parallel_tool_calls is False:
        anthropic_choice = {"type": "auto"}
    else:
        return out
    if chat.parallel_tool_calls is False:
        anthropic_choice["disable_parallel_tool_use"] = True
    out["tool_choice"] = anthropic_choice
    return out


def _tool(function: FunctionDefinition) -> Block:
    tool: Block = {
        "name": function.name,
        "input_schema": function.parameters or {"type": "object", "properties": {}},
    }
    if function.description:
        tool["description"] = function.description
    return tool


_M = TypeVar("_M", bound=BaseModel)


def _parse(kind: type[_M], value: dict[str, Any], where: str) -> _M:
    try:
        return kind.model_validate(value)
    except ValidationError as error:
        raise _to_api_error(error, where) from None


def _to_api_error(error: ValidationError, where: str) -> ApiError:
    # A union reports one error per member; the deepest names the field best.
    first = max(error.errors(include_url=False, include_input=False), key=lambda e: len(e["loc"]))
    names: list[str] = [where] if where else []
    for part in map(str, first["loc"]):
        # Union members add labels ("str", "list[TextPart]", "TextPart") that are not field
        # names; a tagged union repeats its tag ("image_url.image_url") before the field.
        if part in ("str", "int", "float", "bool") or part[:1].isupper() or "[" in part:
            continue
        if not names or names[-1] != part:
            names.append(part)
    return invalid_request(f"{'.'.join(names) or 'body'}: {first['msg']}", "validation")
