"""Hostile input, each case refused with a clear 4xx in the API's own shape before anything
reaches Bedrock: nesting, lone surrogates, null sampling values, bad image data, header floods,
slow and vanishing clients, malformed HTTP. The relay runs as `relaykit serve` runs it."""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from relay_harness import Relay, start_relay
from relay_wire import HEADERS, KEY

from relay import http_protocol
from relay.catalog import DEFAULT_MODEL
from relaykit.server_options import ServerOptions
from relaykit.simulator import SimulatorServer

MODEL = DEFAULT_MODEL.alias
PROMPT = "hostile-canary-prompt-51c2"
BODY_TIMEOUT = 0.5
HEADER_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def served() -> Iterator[Relay]:
    with SimulatorServer() as simulator:
        server = start_relay(
            simulator,
            server_options=ServerOptions().uvicorn_config(),
            body_timeout=BODY_TIMEOUT,
            max_body_bytes=2 * 1024 * 1024,
            retry_attempts=1,
        )
        try:
            yield Relay(server.url, simulator)
        finally:
            server.stop()


@pytest.fixture
def relay(served: Relay, log_scan: Any, monkeypatch: pytest.MonkeyPatch) -> Relay:
    log_scan.forbid(PROMPT)
    monkeypatch.setattr(http_protocol, "HEADER_TIMEOUT", HEADER_TIMEOUT)
    served.simulator.state.reset()
    return served


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": PROMPT}],
        **fields,
    }


def post(relay: Relay, payload: bytes | dict[str, Any], path: str = "/v1/messages") -> Any:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {**HEADERS, "content-type": "application/json"}
    return httpx.post(relay.url + path, content=content, headers=headers, timeout=30)


def anthropic_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    assert payload["type"] == "error"
    assert isinstance(payload["error"]["message"], str)
    return payload["error"]  # type: ignore[no-any-return]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_exchange(relay: Relay, *pieces: bytes, wait: float = 5.0) -> bytes:
    """Send `pieces` on a raw connection, stopping early once the server answers, and read
    until it closes the connection."""
    host, port = relay.url.removeprefix("http://").split(":")
    received = b""
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        for piece in pieces:
            if select.select([sock], [], [], 0.05)[0]:
                break  # answered (and about to close): sending more would be reset
            sock.sendall(piece)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


def split_response(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(rest)


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_json_nested_thousands_deep_is_a_400(relay: Relay, path: str) -> None:
    raw = json.dumps(body(metadata={"user_id": "x"})).encode()
    raw = raw.replace(b'"x"', nested(5000).encode())
    error = anthropic_error(post(relay, raw, path), 400)
    assert error["type"] == "invalid_request_error"
    assert "nests deeper" in error["message"]


def test_json_nested_past_the_limit_is_a_400_in_openai_shape(relay: Relay) -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "user": "x"}
    raw = json.dumps(chat).encode().replace(b'"x"', nested(100).encode())
    response = post(relay, raw, "/v1/chat/completions")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert relay.reached_backend() == 0


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(body()).encode().replace(PROMPT.encode(), b"x\\ud800y"),
        json.dumps(body()).encode().replace(PROMPT.encode(), b"x\xed\xa0\x80y"),
        json.dumps(body()).encode().replace(b'"content"', b'"\\udfffcontent"'),
    ],
    ids=["escaped", "raw-bytes", "in-a-key"],
)
def test_lone_surrogates_are_refused_before_bedrock(relay: Relay, raw: bytes) -> None:
    error = anthropic_error(post(relay, raw), 400)
    assert error["type"] == "invalid_request_error"
    assert relay.reached_backend() == 0


def test_invalid_utf8_is_a_400(relay: Relay) -> None:
    raw = json.dumps(body()).encode().replace(PROMPT.encode(), b"\xff\xfe")
    assert "UTF-8" in anthropic_error(post(relay, raw), 400)["message"]


@pytest.mark.parametrize("field", ["temperature", "top_p", "top_k"])
def test_null_sampling_parameters_are_refused_before_bedrock(relay: Relay, field: str) -> None:
    error = anthropic_error(post(relay, body(**{field: None})), 400)
    assert field in error["message"]
    assert relay.reached_backend() == 0


def test_bad_base64_in_an_openai_data_url_is_refused_before_bedrock(relay: Relay) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,not*base64!"}}
    chat = {"model": MODEL, "messages": [{"role": "user", "content": [image]}]}
    response = post(relay, chat, "/v1/chat/completions")
    assert response.status_code == 400
    assert "base64" in response.json()["error"]["message"]
    assert relay.reached_backend() == 0


def test_a_trailing_slash_is_served_not_redirected(relay: Relay) -> None:
    response = post(relay, body(), "/v1/messages/")
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


def test_too_many_headers_are_a_431(relay: Relay) -> None:
    headers = {**HEADERS, **{f"x-pad-{n}": "1" for n in range(150)}}
    response = httpx.post(relay.url + "/v1/messages", json=body(), headers=headers)
    assert anthropic_error(response, 431)["type"] == "invalid_request_error"


def test_megabytes_of_headers_are_refused_as_they_arrive(relay: Relay) -> None:
    # 4 MB in 64 headers: refused at the limit, without the server buffering all of it.
    head = b"POST /v1/messages HTTP/1.1\r\nhost: relay\r\n"
    pad = [b"x-pad-%d: %s\r\n" % (n, b"a" * 65536) for n in range(64)]
    started = time.monotonic()
    status, payload = split_response(raw_exchange(relay, head, *pad, b"\r\n"))
    assert (status, payload["type"]) == (431, "error")
    assert time.monotonic() - started < 5


def test_headers_are_limited_under_any_server() -> None:
    # Behind Lambda's adapter there is no RelayHttpProtocol: the app checks on its own.
    from starlette.testclient import TestClient

    from relay.app import create_app
    from relay.settings import Settings, key_digest

    app = create_app(Settings(bedrock_region="us-east-1", key_digests=frozenset({key_digest(KEY)})))
    with TestClient(app) as client:
        response = client.get("/health", headers={"x-big": "a" * 40_000})
    assert anthropic_error(response, 431)["type"] == "invalid_request_error"  # type: ignore[arg-type]


def test_malformed_http_is_answered_in_anthropic_shape(relay: Relay) -> None:
    status, payload = split_response(
        raw_exchange(relay, b"POST /v1/messages HTTP/1.1\r\n\x00\r\n\r\n")
    )
    assert status == 400
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"


def test_a_slow_request_head_gets_408_and_the_connection_closed(relay: Relay) -> None:
    status, payload = split_response(raw_exchange(relay, b"POST /v1/messages HTTP/1.1\r\nhost"))
    assert status == 408
    assert payload["error"]["type"] == "invalid_request_error"


def test_an_idle_connection_is_closed(relay: Relay) -> None:
    started = time.monotonic()
    assert raw_exchange(relay, b"") == b""
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_a_body_that_does_not_arrive_in_time_is_a_408(relay: Relay) -> None:
    raw = json.dumps(body()).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: relay\r\nx-api-key: {KEY}\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
        f"content-length: {len(raw)}\r\n\r\n"
    ).encode()
    status, payload = split_response(raw_exchange(relay, head + raw[:10]))
    assert status == 408
    assert payload["error"]["type"] == "invalid_request_error"
    assert relay.reached_backend() == 0


def test_a_client_leaving_mid_body_is_one_quiet_log_line(
    relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    raw = json.dumps(body()).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: relay\r\nx-api-key: {KEY}\r\n"
        f"content-length: {len(raw)}\r\n\r\n"
    ).encode()
    host, port = relay.url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO), socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + raw[:10])
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while not any(r.getMessage() == "request" for r in caplog.records):
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.05)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    (line,) = [r for r in caplog.records if r.getMessage() == "request"]
    assert line.levelno == logging.INFO
    assert line.__dict__.get("error") == "client_disconnected"


def test_a_large_body_is_decoded_off_the_event_loop(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay import body as request_body

    threads: list[str] = []
    decode = request_body.decode

    def spy(raw: bytes) -> object:
        threads.append(threading.current_thread().name)
        return decode(raw)

    monkeypatch.setattr(request_body, "decode", spy)
    post(relay, body(metadata={"user_id": "u" * 300_000}))
    post(relay, body())
    big, small = threads
    assert big != small
    assert small == "relay"  # the server's own thread: small bodies stay on the loop
