"""Timeouts and broken connections to Bedrock, before and after a stream's first byte: each one an
Anthropic error (504 `timeout_error` up front, retried and failed over; an `error` event later),
and a usage record that says what happened."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import anthropic
import pytest
from relay_harness import Gateway, running_gateway
from relay_wire import user

from relay.backends.base import Call, Event
from relay.backends.bedrock import BedrockBackend
from relay.catalog import DEFAULT_MODEL, Routing
from relay.errors import ApiError, ErrorType
from relay.settings import Settings, parse_fallbacks
from relay.targets import bedrock_target
from relaykit.simulator import SimulatorConfig, simulator_session
from relaykit.simulator.eventstream import chunk_frame

MODEL = DEFAULT_MODEL.alias
TARGET = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL).model_id
READ_TIMEOUT = 0.3
# Slower than the relay's read timeout: the simulator stalls where the test wants a timeout.
STALL = 1.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway(
        read_timeout=READ_TIMEOUT,
        retry_attempts=2,
        retry_base_delay=0.01,
        fallbacks=parse_fallbacks(json.dumps({MODEL: ["bedrock:us-west-2"]})),
    ) as running:
        yield running


@pytest.fixture
def simulator_pacing(gateway: Gateway) -> Iterator[object]:
    """Lets a test change the simulator's pacing; restores it afterwards."""
    state = gateway.simulator.state
    original = state.config
    state.reset()

    def pace(config: SimulatorConfig) -> None:
        state.config = config

    yield pace
    state.config = original


def test_a_stream_that_stalls_before_its_first_event_is_a_504_retried_and_failed_over(
    gateway, simulator_pacing
) -> None:
    simulator_pacing(SimulatorConfig(time_to_first_token=STALL))
    secret, key = gateway.store.create_key("team-a")
    client = gateway.client_for(secret)
    stream = client.messages.stream(model=MODEL, max_tokens=20, messages=user("hi"))
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        events.until_done()
    assert raised.value.status_code == 504
    assert raised.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    # Two attempts on each of the two regions.
    assert gateway.reached_backend() == 4
    (record,) = gateway.usage_records(key.key_id, 1)
    assert record.status == "bedrock:timeout"


def test_a_stream_that_stalls_after_its_first_event_ends_with_an_error_event(
    gateway, simulator_pacing
) -> None:
    # The first delta is one token: it comes at once, the next ones too late.
    simulator_pacing(SimulatorConfig(tokens_per_second=1 / STALL))
    secret, key = gateway.store.create_key("team-a")
    client = gateway.client_for(secret)
    seen: list[str] = []
    stream = client.messages.stream(model=MODEL, max_tokens=50, messages=user("tell me more"))
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        seen.extend(event.type for event in events)
    assert seen[0] == "message_start"
    assert raised.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    (record,) = gateway.usage_records(key.key_id, 1)
    assert record.status == "bedrock:timeout"
    assert record.input_tokens > 0


class CuttingBedrock:
    """A loopback Bedrock that starts a stream, sends `frames`, then drops the connection."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = frames
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for frame in self._frames:
                connection.sendall(b"%x\r\n%s\r\n" % (len(frame), frame))
            # Let the client read what was sent: a reset discards what it has not read yet.
            time.sleep(0.3)
            # Reset, not a clean close: the stream is broken, not ended.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._listener.close()


async def stream_from(bedrock: CuttingBedrock) -> tuple[list[Event], ApiError]:
    settings = Settings(
        bedrock_region="us-east-1",
        key_digests=frozenset({"x"}),
        bedrock_endpoint_url=bedrock.url,
    )
    backend = BedrockBackend.for_region(settings, "us-east-1", simulator_session())
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": user("hi")}
    seen: list[Event] = []
    try:
        # Before the first event the break may show as soon as the stream is opened.
        stream = await backend.stream(Call(TARGET, body))
    except ApiError as error:
        return seen, error
    try:
        async for event in stream.events:
            seen.append(event)
    except ApiError as error:
        return seen, error
    finally:
        await stream.close()
    raise AssertionError(f"the stream ended without an error after {seen}")


def test_a_connection_broken_before_the_first_event_is_a_retryable_api_error() -> None:
    seen, error = asyncio.run(stream_from(CuttingBedrock([])))
    assert seen == []
    assert (error.type, error.code) == (ErrorType.API, "bedrock:connection")


def test_a_connection_broken_after_the_first_event_is_an_api_error() -> None:
    first = chunk_frame({"type": "message_start", "message": {"id": "msg_1"}})
    seen, error = asyncio.run(stream_from(CuttingBedrock([first])))
    assert [event["type"] for event in seen] == ["message_start"]
    assert (error.type, error.code) == (ErrorType.API, "bedrock:connection")
