"""Running the simulator: the background server, its client helper, and what it logs."""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request

import pytest
from anthropic import AnthropicBedrock

from relay.catalog import DEFAULT_MODEL
from relaykit.simulator import SimulatorConfig, SimulatorServer, simulator_client
from tests.relaykit.simulator_calls import control, invoke, messages_body, stream


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_endpoint_url_is_on_loopback(sim):
    assert sim.endpoint_url == f"http://127.0.0.1:{sim.port}"


def test_a_given_port_is_used():
    port = free_port()

    with SimulatorServer(port=port) as server:
        assert server.endpoint_url.endswith(f":{port}")
        assert invoke(simulator_client(server.endpoint_url), messages_body())["type"] == "message"


def test_stopping_the_server_closes_its_port():
    with SimulatorServer() as server:
        port = server.port

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_client_helper_does_not_retry_by_default(sim, bedrock):
    control(sim, "faults", {"next": ["throttling", "throttling"]})

    with pytest.raises(bedrock.exceptions.ThrottlingException):
        invoke(bedrock, messages_body())

    assert control(sim, "faults") == {"pending": ["throttling"], "delays": []}


def test_client_helper_retries_when_asked(sim):
    control(sim, "faults", {"next": ["throttling"]})

    message = invoke(simulator_client(sim.endpoint_url, retries=1), messages_body())

    assert message["type"] == "message"


def test_an_unknown_operation_is_refused(sim):
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{sim.endpoint_url}/guardrail/g1/version/1/apply", data=b"{}", method="POST"
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310

    assert raised.value.code == 404
    assert raised.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_prompt_text_is_not_logged(sim, bedrock, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    secret = "pelican-umbrella-7731"

    invoke(bedrock, messages_body(f"my secret is {secret}"))
    stream(bedrock, messages_body(f"my secret is {secret}"))

    # The client's own botocore debug log echoes request bodies; only the server side counts.
    server_side = [r for r in caplog.records if not r.name.startswith(("botocore", "urllib3"))]
    captured = capfd.readouterr()
    assert all(secret not in r.getMessage() for r in server_side)
    assert secret not in captured.out + captured.err


def test_the_anthropic_sdk_bedrock_client_works_against_it(sim):
    client = AnthropicBedrock(
        aws_access_key="simulator",
        aws_secret_key="simulator",
        aws_region="us-east-1",
        base_url=sim.endpoint_url,
        max_retries=0,
    )

    with client.messages.stream(
        model=DEFAULT_MODEL.bedrock_id,
        max_tokens=256,
        messages=[{"role": "user", "content": "Hello"}],
    ) as events:
        message = events.get_final_message()

    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("[simulated ")
    assert message.usage.output_tokens > 0


def test_latency_delays_every_operation():
    with SimulatorServer(SimulatorConfig(latency=0.2)) as slow:
        client = simulator_client(slow.endpoint_url)
        started = time.monotonic()

        invoke(client, messages_body())

        assert time.monotonic() - started >= 0.2


def test_a_queued_delay_holds_only_the_next_request(sim, bedrock):
    control(sim, "faults", {"delays": [0.5]})
    assert control(sim, "faults") == {"pending": [], "delays": [0.5]}

    started = time.monotonic()
    invoke(bedrock, messages_body())
    slow = time.monotonic() - started
    started = time.monotonic()
    invoke(bedrock, messages_body())
    fast = time.monotonic() - started

    assert slow >= 0.5 > fast
    assert control(sim, "faults") == {"pending": [], "delays": []}


def test_a_delay_for_a_model_id_waits_for_a_request_to_it(sim, bedrock):
    held = f"global.{DEFAULT_MODEL.bedrock_id}"
    control(sim, "faults", {"delays": [0.5], "model_id": held})

    started = time.monotonic()
    invoke(bedrock, messages_body())  # another id of the model: not held
    assert time.monotonic() - started < 0.5
    assert control(sim, "faults") == {"pending": [], "delays": [0.5]}
    started = time.monotonic()
    invoke(bedrock, messages_body(), held)
    assert time.monotonic() - started >= 0.5
    assert control(sim, "faults") == {"pending": [], "delays": []}
