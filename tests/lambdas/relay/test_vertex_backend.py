"""VertexBackend against the simulator's Vertex AI paths and a scripted upstream; no network."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google.auth
import google.auth.aws
import pytest
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError, RefreshError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relay.backends.base import Call
from relay.backends.vertex import VertexBackend, vertex_body
from relay.backends.vertex_access import VertexSettings, load_credentials, parse_credentials
from relay.catalog import DEFAULT_MODEL
from relay.errors import ApiError, ErrorType
from relay.settings import ConfigError
from relaykit.simulator import SimulatorServer
from relaykit.threaded import ThreadedServer
from stacks.gcp.federation import aws_credential_config

PROJECT = "acme-claude-dev"
MODEL_ID = DEFAULT_MODEL.vertex_id or ""
CONTEXT_BETA = "context-management-2025-06-27"
POOL_PROVIDER = (
    "projects/123456789012/locations/global/workloadIdentityPools/claude-relay/providers/aws"
)
INVOKER = f"claude-vertex-invoker@{PROJECT}.iam.gserviceaccount.com"


def bedrock_body(text: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    """What the relay's core hands a backend: Bedrock's version, betas as a body list."""
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def call(**fields: Any) -> Call:
    return Call(MODEL_ID, bedrock_body(**fields))


def settings(url: str, **overrides: Any) -> VertexSettings:
    return VertexSettings(**{"project": PROJECT, "endpoint_url": url, **overrides})


def raised(action: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        action()
    return error.value


def drain(backend: VertexBackend, c: Call) -> list[dict[str, Any]]:
    return list(backend.stream(c).events)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim(simulator: SimulatorServer) -> SimulatorServer:
    simulator.state.reset()
    return simulator


@pytest.fixture(scope="module")
def backend(simulator: SimulatorServer) -> VertexBackend:
    return VertexBackend.from_settings(settings(simulator.url), AnonymousCredentials())


@dataclass
class Script:
    """What the scripted upstream answers next, and what it last received."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    delay: float = 0.0
    seen_headers: dict[str, str] = field(default_factory=dict)
    seen_path: str = ""
    seen_body: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        for name, value in vars(Script()).items():
            setattr(self, name, value)


@pytest.fixture(scope="module")
def upstream_server() -> Iterator[tuple[ThreadedServer, Script]]:
    script = Script()

    async def answer(request: Request) -> Response:
        script.seen_headers = dict(request.headers)
        script.seen_path = request.url.path
        script.seen_body = json.loads(await request.body())
        if script.delay:
            await asyncio.sleep(script.delay)
        return Response(script.body, script.status, script.headers, script.media_type)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
    with ThreadedServer(app, name="scripted Vertex AI") as server:
        yield server, script


@pytest.fixture
def upstream(upstream_server: tuple[ThreadedServer, Script]) -> tuple[VertexBackend, Script]:
    server, script = upstream_server
    script.reset()
    backend = VertexBackend.from_settings(
        settings(server.url, read_timeout=0.3), AnonymousCredentials()
    )
    return backend, script


class CountingCredentials(Credentials):
    """Issues `token-<n>` on the n-th refresh, valid for an hour; counts refreshes."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        super().__init__()
        self.refreshes = 0
        self._delay = delay
        self._fail = fail

    def refresh(self, request: Any) -> None:
        if self._fail:
            raise RefreshError("invalid_grant: the subject token was rejected")
        time.sleep(self._delay)
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        self.expiry = now + datetime.timedelta(hours=1)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test reached for the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- the body and URL Vertex AI takes ---------------------------------------------------------


def test_body_carries_the_vertex_anthropic_version():
    body, _ = vertex_body(bedrock_body())

    assert body["anthropic_version"] == "vertex-2023-10-16"


def test_betas_leave_the_body_for_the_header():
    body, betas = vertex_body(bedrock_body(anthropic_beta=[CONTEXT_BETA]))

    assert "anthropic_beta" not in body
    assert betas == [CONTEXT_BETA]


def test_stream_body_asks_for_a_stream():
    body, _ = vertex_body(bedrock_body(), stream=True)

    assert body["stream"] is True


def test_global_location_uses_the_global_host():
    assert VertexSettings(PROJECT).base_url == "https://aiplatform.googleapis.com"


def test_regional_location_uses_its_own_host():
    base_url = VertexSettings(PROJECT, region="europe-west1").base_url

    assert base_url == "https://europe-west1-aiplatform.googleapis.com"


def test_model_url_names_project_location_publisher_and_method():
    url = VertexSettings(PROJECT, region="us-east5").model_url(MODEL_ID, "streamRawPredict")

    assert url == (
        f"https://us-east5-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/us-east5"
        f"/publishers/anthropic/models/{MODEL_ID}:streamRawPredict"
    )


# --- settings from the environment ------------------------------------------------------------


def test_from_env_reads_project_region_and_endpoint():
    env = {
        "RELAY_VERTEX_PROJECT": PROJECT,
        "RELAY_VERTEX_REGION": "us-east5",
        "RELAY_VERTEX_ENDPOINT_URL": "http://127.0.0.1:8787",
    }

    loaded = VertexSettings.from_env(env)

    assert (loaded.project, loaded.region, loaded.endpoint_url) == (
        PROJECT,
        "us-east5",
        "http://127.0.0.1:8787",
    )


def test_from_env_defaults_to_global_and_application_default_credentials():
    loaded = VertexSettings.from_env({"RELAY_VERTEX_PROJECT": PROJECT})

    assert (loaded.region, loaded.credentials_info) == ("global", None)


def test_from_env_shares_the_relays_timeouts():
    env = {"RELAY_VERTEX_PROJECT": PROJECT, "RELAY_READ_TIMEOUT": "42"}

    assert VertexSettings.from_env(env).read_timeout == 42.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "RELAY_VERTEX_PROJECT"),
        ({"RELAY_VERTEX_PROJECT": "Not A Project"}, "RELAY_VERTEX_PROJECT"),
        ({"RELAY_VERTEX_REGION": "mars-north1!"}, "RELAY_VERTEX_REGION"),
        ({"RELAY_VERTEX_ENDPOINT_URL": "localhost:8787"}, "RELAY_VERTEX_ENDPOINT_URL"),
        ({"RELAY_VERTEX_CREDENTIALS": "{not json"}, "RELAY_VERTEX_CREDENTIALS"),
        ({"RELAY_CONNECT_TIMEOUT": "soon"}, "RELAY_CONNECT_TIMEOUT"),
        ({"RELAY_READ_TIMEOUT": "0"}, "RELAY_READ_TIMEOUT"),
    ],
)
def test_a_bad_setting_names_its_variable(env, variable):
    full = {"RELAY_VERTEX_PROJECT": PROJECT, **env} if variable != "RELAY_VERTEX_PROJECT" else env

    with pytest.raises(ConfigError, match=variable):
        VertexSettings.from_env(full)


def test_credentials_json_inline_is_parsed():
    info = aws_credential_config(POOL_PROVIDER, INVOKER)

    assert parse_credentials(json.dumps(info, indent=2)) == info


def test_credentials_path_is_read(tmp_path: Path):
    info = aws_credential_config(POOL_PROVIDER, INVOKER)
    path = tmp_path / "vertex.json"
    path.write_text(json.dumps(info))

    assert parse_credentials(str(path)) == info


def test_unreadable_credentials_path_names_the_variable(tmp_path: Path):
    with pytest.raises(ConfigError, match="RELAY_VERTEX_CREDENTIALS"):
        parse_credentials(str(tmp_path / "missing.json"))


def test_credentials_error_never_repeats_their_content():
    secret = json.dumps({"type": "api_key", "private_key": "-----SECRET-----"})

    with pytest.raises(ConfigError) as error:
        parse_credentials(secret)

    assert "SECRET" not in str(error.value)


def test_settings_repr_hides_credentials():
    info = {"type": "service_account", "private_key": "-----SECRET-----"}

    assert "SECRET" not in repr(VertexSettings(PROJECT, credentials_info=info))


# --- the external_account configuration stacks/gcp outputs ------------------------------------


def test_stack_credential_config_loads_as_aws_federation_without_network(no_network):
    info = parse_credentials(json.dumps(aws_credential_config(POOL_PROVIDER, INVOKER), indent=2))

    credentials = load_credentials(info)

    assert isinstance(credentials, google.auth.aws.Credentials)


def test_stack_credential_config_impersonates_the_invoker(no_network):
    credentials = load_credentials(aws_credential_config(POOL_PROVIDER, INVOKER))

    assert credentials.service_account_email == INVOKER


def test_backend_from_stack_credential_config_holds_no_token_yet(no_network):
    info = aws_credential_config(POOL_PROVIDER, INVOKER)

    backend = VertexBackend.from_settings(VertexSettings(PROJECT, credentials_info=info))

    assert backend._credentials.token is None


def test_malformed_external_account_names_the_variable():
    config = aws_credential_config(POOL_PROVIDER, INVOKER)
    info = {**config, "credential_source": {"environment_id": "aws9"}}

    with pytest.raises(ConfigError, match="RELAY_VERTEX_CREDENTIALS"):
        load_credentials(info)


def test_missing_default_credentials_names_the_variable(monkeypatch):
    def not_found(**_: Any) -> None:
        raise DefaultCredentialsError("no credentials here")

    monkeypatch.setattr(google.auth, "default", not_found)

    with pytest.raises(ConfigError, match="RELAY_VERTEX_CREDENTIALS"):
        load_credentials(None)


def test_vertex_without_google_auth_installed_says_how_to_bundle_it(monkeypatch) -> None:
    # As in the Lambda package bundled without Vertex AI's libraries.
    monkeypatch.setitem(sys.modules, "google.auth.exceptions", None)
    with pytest.raises(ConfigError, match=r"google-auth is not installed.*vertex=True"):
        load_credentials(aws_credential_config(POOL_PROVIDER, INVOKER))


# --- invoke, stream and count against the simulator -------------------------------------------


def test_invoke_returns_the_vertex_message(sim, backend):
    message, _ = backend.invoke(call())

    assert message["id"].startswith("msg_vrtx_")
    assert message["model"] == DEFAULT_MODEL.anthropic_id


def test_invoke_metrics_come_from_usage(sim, backend):
    message, metrics = backend.invoke(call())

    assert (metrics.input_tokens, metrics.output_tokens) == (
        message["usage"]["input_tokens"],
        message["usage"]["output_tokens"],
    )
    assert metrics.provider_request_id == message["id"]


def test_invoke_calls_rawpredict_on_the_vertex_model_id(sim, backend):
    backend.invoke(call())

    operations = sim.state.stats.snapshot()["operations"]
    assert operations["VertexRawPredict"]["models"] == {MODEL_ID: 1}


def test_betas_reach_vertex_in_the_anthropic_beta_header(sim, backend):
    # The simulator honours the header only, as Vertex AI does for beta fields.
    c = call(anthropic_beta=[CONTEXT_BETA], context_management={"edits": []})

    message, _ = backend.invoke(c)

    assert message["type"] == "message"


def test_stream_yields_anthropic_events_without_pings(sim, backend):
    events = drain(backend, call())

    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "ping" not in kinds


def test_stream_metrics_are_complete_once_events_end(sim, backend):
    stream = backend.stream(call())
    events = list(stream.events)

    delta = next(e for e in events if e["type"] == "message_delta")
    assert stream.metrics.output_tokens == delta["usage"]["output_tokens"]
    assert stream.metrics.input_tokens == events[0]["message"]["usage"]["input_tokens"]
    assert stream.metrics.first_byte_ms is not None
    assert stream.metrics.latency_ms is not None


def test_count_tokens_matches_the_input_tokens_of_invoke(sim, backend):
    message, _ = backend.invoke(call())

    assert backend.count_tokens(call()) == message["usage"]["input_tokens"]


def test_count_tokens_calls_the_count_tokens_endpoint(sim, backend):
    backend.count_tokens(call())

    operations = sim.state.stats.snapshot()["operations"]
    assert operations["VertexCountTokens"]["models"] == {MODEL_ID: 1}


# --- errors -----------------------------------------------------------------------------------

UPFRONT = [
    ("throttling", ErrorType.RATE_LIMIT, "vertex:RESOURCE_EXHAUSTED"),
    ("quota", ErrorType.RATE_LIMIT, "vertex:RESOURCE_EXHAUSTED"),
    ("unauthenticated", ErrorType.PERMISSION, "vertex:UNAUTHENTICATED"),
    ("access_denied", ErrorType.PERMISSION, "vertex:PERMISSION_DENIED"),
    ("not_found", ErrorType.NOT_FOUND, "vertex:NOT_FOUND"),
    ("validation", ErrorType.INVALID_REQUEST, "vertex:INVALID_ARGUMENT"),
    ("internal", ErrorType.API, "vertex:INTERNAL"),
    ("unavailable", ErrorType.OVERLOADED, "vertex:UNAVAILABLE"),
    ("timeout", ErrorType.TIMEOUT, "vertex:DEADLINE_EXCEEDED"),
    ("model_not_ready", ErrorType.OVERLOADED, "vertex:overloaded_error"),
]


@pytest.mark.parametrize(("fault", "kind", "code"), UPFRONT)
def test_vertex_error_maps_to_its_anthropic_type(sim, backend, fault, kind, code):
    sim.state.faults.inject([fault])

    error = raised(lambda: backend.invoke(call()))

    assert (error.type, error.code) == (kind, code)


def test_rate_limit_without_a_google_delay_invents_no_retry_after(sim, backend):
    # The relay's own retries would honour it; the relay adds a default for its clients.
    sim.state.faults.inject(["throttling"])

    error = raised(lambda: backend.invoke(call()))

    assert error.type is ErrorType.RATE_LIMIT
    assert error.headers == {}


def test_permission_error_points_at_the_service_account_and_model_garden(sim, backend):
    sim.state.faults.inject(["access_denied"])

    message = raised(lambda: backend.invoke(call())).message

    assert "aiplatform.endpoints.predict" in message
    assert "Model Garden" in message


def test_model_not_offered_in_the_location_is_not_found_with_the_fix(sim):
    location = next(
        r for r in ("us-east5", "europe-west1") if r not in DEFAULT_MODEL.vertex_regions
    )
    regional = VertexBackend.from_settings(
        settings(sim.url, region=location), AnonymousCredentials()
    )

    error = raised(lambda: regional.invoke(call()))

    assert error.type is ErrorType.NOT_FOUND
    assert "Model Garden" in error.message
    assert location in error.message


def test_anthropic_error_passed_through_keeps_its_type_and_message(sim, backend):
    error = raised(lambda: backend.invoke(call(max_tokens=10**6)))

    assert (error.type, error.code) == (ErrorType.INVALID_REQUEST, "vertex:invalid_request_error")
    assert "max_tokens" in error.message


def test_stream_fails_before_its_first_event_on_an_upfront_fault(sim, backend):
    sim.state.faults.inject(["unavailable"])

    error = raised(lambda: backend.stream(call()))

    assert error.type is ErrorType.OVERLOADED


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("mid_stream", ErrorType.API),
        ("mid_stream_throttling", ErrorType.RATE_LIMIT),
        ("mid_stream_unavailable", ErrorType.OVERLOADED),
        ("mid_stream_timeout", ErrorType.TIMEOUT),
    ],
)
def test_mid_stream_error_event_raises_from_the_events(sim, backend, fault, kind):
    sim.state.faults.inject([fault])
    stream = backend.stream(call())

    error = raised(lambda: list(stream.events))

    assert error.type is kind


def test_mid_stream_rate_limit_is_a_rate_limit_error(sim, backend):
    sim.state.faults.inject(["mid_stream_throttling"])
    stream = backend.stream(call())

    error = raised(lambda: list(stream.events))

    assert error.type is ErrorType.RATE_LIMIT


# --- what only a scripted upstream can show ---------------------------------------------------


def google_error(status: int, name: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"code": status, "message": "m", "status": name, **extra}}).encode()


def test_betas_are_sent_comma_separated_in_the_anthropic_beta_header(upstream):
    backend, script = upstream
    script.body = json.dumps({"id": "msg_1", "usage": {}}).encode()

    backend.invoke(call(anthropic_beta=[CONTEXT_BETA, "effort-2025-11-24"]))

    assert script.seen_headers["anthropic-beta"] == f"{CONTEXT_BETA},effort-2025-11-24"


def test_count_tokens_names_the_model_in_the_body_and_drops_max_tokens(upstream):
    backend, script = upstream
    script.body = b'{"input_tokens": 7}'

    backend.count_tokens(call())

    assert script.seen_path.endswith("/publishers/anthropic/models/count-tokens:rawPredict")
    assert script.seen_body["model"] == MODEL_ID
    assert "max_tokens" not in script.seen_body


def test_google_retry_after_header_is_passed_on(upstream):
    backend, script = upstream
    script.status, script.body = 429, google_error(429, "RESOURCE_EXHAUSTED")
    script.headers = {"retry-after": "17"}

    assert raised(lambda: backend.invoke(call())).headers == {"retry-after": "17"}


def test_google_retry_info_delay_is_passed_on(upstream):
    backend, script = upstream
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}
    script.status, script.body = 429, google_error(429, "RESOURCE_EXHAUSTED", details=[retry])

    assert raised(lambda: backend.invoke(call())).headers == {"retry-after": "3"}


def test_google_error_wrapped_in_a_list_is_read(upstream):
    backend, script = upstream
    script.status, script.body = 403, b"[" + google_error(403, "PERMISSION_DENIED") + b"]"

    assert raised(lambda: backend.invoke(call())).code == "vertex:PERMISSION_DENIED"


def test_error_page_that_is_not_json_maps_by_status(upstream):
    backend, script = upstream
    script.status, script.body, script.media_type = 502, b"<html>Bad Gateway</html>", "text/html"

    error = raised(lambda: backend.invoke(call()))

    assert (error.type, error.code) == (ErrorType.API, "vertex:HTTP_502")


def test_gateway_timeout_is_a_timeout_error(upstream):
    backend, script = upstream
    script.status, script.body = 504, google_error(504, "DEADLINE_EXCEEDED")

    assert raised(lambda: backend.invoke(call())).type is ErrorType.TIMEOUT


def test_stream_ending_before_message_stop_is_an_api_error(upstream):
    backend, script = upstream
    start = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
    script.body = f"event: message_start\ndata: {json.dumps(start)}\n\n".encode()
    script.media_type = "text/event-stream"
    stream = backend.stream(call())

    error = raised(lambda: list(stream.events))

    assert error.code == "vertex:stream_truncated"


def test_no_answer_within_the_read_timeout_is_a_timeout_error(upstream):
    backend, script = upstream
    script.delay = 0.6

    assert raised(lambda: backend.invoke(call())).code == "vertex:timeout"


def test_unreachable_endpoint_is_an_api_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    backend = VertexBackend.from_settings(settings(closed), AnonymousCredentials())

    error = raised(lambda: backend.invoke(call()))

    assert (error.type, error.code) == (ErrorType.API, "vertex:unreachable")


# --- tokens -----------------------------------------------------------------------------------


def test_token_is_sent_as_a_bearer_token(upstream_server):
    server, script = upstream_server
    script.reset()
    script.body = json.dumps({"id": "msg_1", "usage": {}}).encode()
    backend = VertexBackend.from_settings(settings(server.url), CountingCredentials())

    backend.invoke(call())

    assert script.seen_headers["authorization"] == "Bearer token-1"


def test_token_is_refreshed_once_and_reused(sim):
    credentials = CountingCredentials()
    backend = VertexBackend.from_settings(settings(sim.url), credentials)

    backend.invoke(call())
    backend.invoke(call())

    assert credentials.refreshes == 1


def test_expired_token_is_refreshed(sim):
    credentials = CountingCredentials()
    backend = VertexBackend.from_settings(settings(sim.url), credentials)
    backend.invoke(call())
    credentials.expiry = datetime.datetime(2000, 1, 1)

    backend.invoke(call())

    assert credentials.refreshes == 2


def test_concurrent_calls_refresh_the_token_once(sim):
    credentials = CountingCredentials(delay=0.2)
    backend = VertexBackend.from_settings(settings(sim.url), credentials)
    threads = [threading.Thread(target=backend.invoke, args=(call(),)) for _ in range(8)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert credentials.refreshes == 1


def test_token_refresh_failure_is_a_permission_error(sim):
    backend = VertexBackend.from_settings(settings(sim.url), CountingCredentials(fail=True))

    error = raised(lambda: backend.invoke(call()))

    assert (error.type, error.code) == (ErrorType.PERMISSION, "vertex:auth")
