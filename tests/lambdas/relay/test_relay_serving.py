"""The relay under `relaykit serve`'s uvicorn options: a shutdown lets open streams finish."""

from __future__ import annotations

import threading

import httpx
from relay_harness import start_relay
from relay_wire import HEADERS, user

from relay.catalog import DEFAULT_MODEL
from relaykit.server_options import ServerOptions
from relaykit.simulator import SimulatorConfig, SimulatorServer


def test_a_shutdown_lets_an_open_stream_finish() -> None:
    # About two seconds of tokens: longer than ThreadedServer's own 1 s grace.
    with SimulatorServer(SimulatorConfig(tokens_per_second=25)) as simulator:
        options = ServerOptions(graceful_shutdown=30).uvicorn_config()
        server = start_relay(simulator, server_options=options)
        body = {
            "model": DEFAULT_MODEL.alias,
            "max_tokens": 60,
            "stream": True,
            "messages": user("tell me a long story"),
        }
        stopping = threading.Thread(target=server.stop)
        with httpx.stream(
            "POST", f"{server.url}/v1/messages", json=body, headers=HEADERS, timeout=30
        ) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: message_start"
            stopping.start()
            rest = list(lines)
        stopping.join()
    assert "event: message_stop" in rest
    assert not server.running


def test_the_thread_limiter_is_sized_from_settings() -> None:
    import anyio.to_thread
    from starlette.testclient import TestClient

    from relay.app import create_app
    from relay.settings import Settings

    env = {"RELAY_BEDROCK_REGION": "us-east-1", "RELAY_API_KEYS": "k", "RELAY_THREADS": "123"}
    settings = Settings.from_env(env)
    assert settings.threads == 123
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
        assert limiter.total_tokens == 123


def test_input_limits_are_read_from_the_environment() -> None:
    from relay.settings import Settings

    env = {
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_API_KEYS": "k",
        "RELAY_MAX_HEADERS": "20",
        "RELAY_MAX_HEADER_BYTES": "4096",
        "RELAY_BODY_TIMEOUT": "2.5",
    }
    settings = Settings.from_env(env)
    assert (settings.max_headers, settings.max_header_bytes) == (20, 4096)
    assert settings.body_timeout == 2.5
