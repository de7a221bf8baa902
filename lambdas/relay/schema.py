"""Request validation for the Messages API, before anything reaches a backend.

Validation is deliberately shallow where Bedrock validates better (content block internals), and
strict where a bad value would waste a call or money (types, roles, ranges, the model's limits).
Unknown top-level fields are kept: `policy.py` decides what happens to each.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relay.errors import ApiError, invalid_request

Block = dict[str, Any]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Message(_Lenient):
    role: Literal["user", "assistant"]
    content: str | list[Block]

    @field_validator("content")
    @classmethod
    def _blocks_have_types(cls, content: str | list[Block]) -> str | list[Block]:
        if isinstance(content, list):
            for index, block in enumerate(content):
                if not isinstance(block.get("type"), str):
                    raise ValueError(f"content block {index} has no 'type'")
        return content


class Tool(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)]


class ToolChoice(_Lenient):
    type: Literal["auto", "any", "tool", "none"]


class Thinking(_Lenient):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Field(ge=1024)] | None = None


class CountTokensRequest(_Lenient):
    """The body of POST /v1/messages/count_tokens."""

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[Message], Field(min_length=1)]
    system: str | list[Block] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None


class MessagesRequest(CountTokensRequest):
    """The body of POST /v1/messages."""

    max_tokens: Annotated[int, Field(ge=1)]
    stream: bool = False
    temperature: Annotated[float, Field(ge=0, le=1, strict=False)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1, strict=False)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    stop_sequences: list[str] | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("temperature", "top_p", "top_k", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent means "the model's default"; an explicit null is refused by Bedrock (400 after
        # the request was admitted), so it is refused before anything is spent.
        if value is None:
            raise ValueError("must be a number when present, not null")
        return value


_R = TypeVar("_R", bound=CountTokensRequest)


def parse(kind: type[_R], body: object) -> _R:
    """Validate a decoded JSON body, or raise an invalid_request_error naming the field."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", "body_not_object")
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        raise _to_api_error(error) from None


def _to_api_error(error: ValidationError) -> ApiError:
    first = error.errors(include_url=False, include_input=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == "literal_error" and first["loc"][-1] == "role":
        message = (
            "Unexpected role. The Messages API accepts 'user' and 'assistant' message roles; "
            "put system instructions in the top-level 'system' parameter"
        )
    return invalid_request(f"{location}: {message}", "validation")
