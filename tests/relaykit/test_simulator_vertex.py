"""The simulator's Claude on Vertex AI paths, on the wire: bodies, SSE, Google's errors, stats."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from relay.catalog import DEFAULT_MODEL, MODELS
from relaykit.simulator import SimulatorServer
from tests.relaykit.simulator_calls import control

PROJECT = "acme-claude-dev"
VERTEX_VERSION = "vertex-2023-10-16"
CONTEXT_BETA = "context-management-2025-06-27"


def models_path(location: str = "global") -> str:
    return f"/v1/projects/{PROJECT}/locations/{location}/publishers/anthropic/models"


def vertex_body(text: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    return {
        "anthropic_version": VERTEX_VERSION,
        "max_tokens": 512,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def post(
    sim: SimulatorServer, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built from the fixture
        f"{sim.url}{path}",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def raw_predict(sim: SimulatorServer, body: Any, model_id: str = "", **kw: Any) -> Any:
    path = f"{models_path(kw.pop('location', 'global'))}/{model_id or DEFAULT_MODEL.vertex_id}"
    return post(sim, f"{path}:rawPredict", body, **kw)


def stream_raw_predict(sim: SimulatorServer, body: Any, **kw: Any) -> Any:
    path = f"{models_path()}/{DEFAULT_MODEL.vertex_id}:streamRawPredict"
    return post(sim, path, {**body, "stream": True}, **kw)


def sse_blocks(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each Server-Sent Event."""
    blocks = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        blocks.append((lines["event"], json.loads(lines["data"])))
    return blocks


def test_raw_predict_returns_a_message_labelled_as_simulated_vertex(sim):
    status, _, raw = raw_predict(sim, vertex_body())

    message = json.loads(raw)
    assert status == 200
    assert message["id"].startswith("msg_vrtx_01")
    assert message["model"] == DEFAULT_MODEL.anthropic_id
    assert f"[simulated {DEFAULT_MODEL.name} on Vertex AI]" in message["content"][0]["text"]


def test_stream_raw_predict_is_an_sse_stream(sim):
    status, headers, _ = stream_raw_predict(sim, vertex_body())

    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")


def test_stream_names_each_event_after_its_type_and_pings_after_message_start(sim):
    _, _, raw = stream_raw_predict(sim, vertex_body())

    blocks = sse_blocks(raw)
    assert all(name == data["type"] for name, data in blocks)
    assert [name for name, _ in blocks[:2]] == ["message_start", "ping"]
    assert blocks[-1][0] == "message_stop"


def test_stream_spells_out_the_same_reply_as_raw_predict(sim):
    _, _, plain = raw_predict(sim, vertex_body())
    _, _, streamed = stream_raw_predict(sim, vertex_body())

    text = "".join(
        data["delta"]["text"]
        for _, data in sse_blocks(streamed)
        if data["type"] == "content_block_delta"
    )
    assert text == json.loads(plain)["content"][0]["text"]


def test_count_tokens_counts_what_raw_predict_reports_as_input(sim):
    _, _, plain = raw_predict(sim, vertex_body())
    counted = {"model": DEFAULT_MODEL.vertex_id, "messages": vertex_body()["messages"]}

    status, _, raw = post(sim, f"{models_path()}/count-tokens:rawPredict", counted)

    assert status == 200
    assert json.loads(raw) == {"input_tokens": json.loads(plain)["usage"]["input_tokens"]}


def test_count_tokens_refuses_max_tokens_as_anthropic_does(sim):
    counted = {"model": DEFAULT_MODEL.vertex_id, **vertex_body()}

    status, _, raw = post(sim, f"{models_path()}/count-tokens:rawPredict", counted)

    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


def test_bedrock_anthropic_version_is_refused_with_an_anthropic_error(sim):
    status, _, raw = raw_predict(sim, vertex_body(anthropic_version="bedrock-2023-05-31"))

    error = json.loads(raw)
    assert status == 400
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"


def test_beta_header_unlocks_a_beta_field(sim):
    body = vertex_body(context_management={"edits": []})

    status, _, _ = raw_predict(sim, body, headers={"anthropic-beta": CONTEXT_BETA})

    assert status == 200


def test_beta_in_the_body_alone_does_not_unlock_a_beta_field(sim):
    body = vertex_body(context_management={"edits": []}, anthropic_beta=[CONTEXT_BETA])

    status, _, _ = raw_predict(sim, body)

    assert status == 400


def test_unknown_model_is_a_google_not_found(sim):
    status, _, raw = raw_predict(sim, vertex_body(), model_id="claude-unknown@20990101")

    assert status == 404
    assert json.loads(raw)["error"]["status"] == "NOT_FOUND"


def test_model_outside_its_vertex_locations_is_not_found(sim):
    location = next(
        r for r in ("us-east5", "europe-west1") if r not in DEFAULT_MODEL.vertex_regions
    )
    assert DEFAULT_MODEL.vertex_regions  # the catalog names where the model is offered

    status, _, raw = raw_predict(sim, vertex_body(), location=location)

    assert status == 404
    assert location in json.loads(raw)["error"]["message"]


@pytest.mark.parametrize(
    "model", [m for m in MODELS if m.vertex_id and m.served], ids=lambda m: m.alias
)
def test_every_catalog_vertex_model_is_served_where_the_catalog_says(sim, model):
    location = model.vertex_regions[0] if model.vertex_regions else "global"

    status, _, _ = raw_predict(
        sim, vertex_body(max_tokens=64), model_id=model.vertex_id, location=location
    )

    assert status == 200


UPFRONT = [
    ("throttling", 429, "RESOURCE_EXHAUSTED"),
    ("quota", 429, "RESOURCE_EXHAUSTED"),
    ("unauthenticated", 401, "UNAUTHENTICATED"),
    ("access_denied", 403, "PERMISSION_DENIED"),
    ("not_found", 404, "NOT_FOUND"),
    ("validation", 400, "INVALID_ARGUMENT"),
    ("internal", 500, "INTERNAL"),
    ("model_error", 500, "INTERNAL"),
    ("unavailable", 503, "UNAVAILABLE"),
    ("timeout", 504, "DEADLINE_EXCEEDED"),
]


@pytest.mark.parametrize(("fault", "status", "google_status"), UPFRONT)
def test_injected_fault_is_a_google_error_envelope(sim, fault, status, google_status):
    control(sim, "faults", {"next": [fault]})

    got, _, raw = raw_predict(sim, vertex_body())

    error = json.loads(raw)["error"]
    assert got == status
    assert (error["code"], error["status"]) == (status, google_status)
    assert error["message"]


def test_model_not_ready_is_anthropics_overloaded_passed_through(sim):
    control(sim, "faults", {"next": ["model_not_ready"]})

    status, _, raw = raw_predict(sim, vertex_body())

    assert status == 529
    assert json.loads(raw)["error"]["type"] == "overloaded_error"


def test_injected_fault_applies_to_count_tokens(sim):
    control(sim, "faults", {"next": ["unavailable"]})
    counted = {"model": DEFAULT_MODEL.vertex_id, "messages": vertex_body()["messages"]}

    status, _, _ = post(sim, f"{models_path()}/count-tokens:rawPredict", counted)

    assert status == 503


def test_mid_stream_fault_ends_the_stream_with_an_error_event(sim):
    control(sim, "faults", {"next": ["mid_stream_unavailable"]})

    _, _, raw = stream_raw_predict(sim, vertex_body())

    blocks = sse_blocks(raw)
    assert blocks[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert "message_stop" not in [name for name, _ in blocks]


def test_stats_count_vertex_operations_by_vertex_model_id(sim):
    raw_predict(sim, vertex_body())
    stream_raw_predict(sim, vertex_body())
    counted = {"model": DEFAULT_MODEL.vertex_id, "messages": vertex_body()["messages"]}
    post(sim, f"{models_path()}/count-tokens:rawPredict", counted)

    operations = control(sim, "stats")["operations"]

    assert {op: stats["models"] for op, stats in operations.items()} == {
        "VertexRawPredict": {DEFAULT_MODEL.vertex_id: 1},
        "VertexStreamRawPredict": {DEFAULT_MODEL.vertex_id: 1},
        "VertexCountTokens": {DEFAULT_MODEL.vertex_id: 1},
    }


def test_stats_count_vertex_errors_by_google_status(sim):
    control(sim, "faults", {"next": ["throttling"]})
    raw_predict(sim, vertex_body())

    assert control(sim, "stats")["errors"] == {"RESOURCE_EXHAUSTED": 1}
