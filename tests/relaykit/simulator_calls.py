"""Calls the simulator tests make: a minimal Claude body, boto3 invocations, the control API."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

from relay.catalog import DEFAULT_MODEL

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

    from relaykit.simulator import SimulatorServer


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "detailed": {"type": "boolean"},
        },
        "required": ["city", "days", "unit"],
    },
}


def messages_body(text: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    """A minimal valid InvokeModel body for Claude, with `fields` added or replaced. With tools,
    the default question names the weather tool, so the simulator calls it."""
    if "tools" in fields and text == "What is the capital of France?":
        text = "What is the weather in Paris, the capital of France?"
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def invoke(client: BedrockRuntimeClient, body: dict[str, Any], model_id: str = "") -> Any:
    response = client.invoke_model(
        modelId=model_id or DEFAULT_MODEL.bedrock_id, body=json.dumps(body)
    )
    return json.loads(response["body"].read())


def stream(client: BedrockRuntimeClient, body: dict[str, Any], model_id: str = "") -> list[Any]:
    response = client.invoke_model_with_response_stream(
        modelId=model_id or DEFAULT_MODEL.bedrock_id, body=json.dumps(body)
    )
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def control(sim: SimulatorServer, path: str, payload: Any = None) -> Any:
    """Call a /_simulator/ endpoint: POST when there is a payload, GET otherwise."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL built from the fixture
        f"{sim.endpoint_url}/_simulator/{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())
