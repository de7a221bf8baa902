"""Claude on Vertex AI: rawPredict, streamRawPredict (Server-Sent Events) and count-tokens.

The relay's core hands over Bedrock's body (Bedrock's `anthropic_version`, betas in an
`anthropic_beta` list). Vertex AI takes the same Messages body with `anthropic_version:
"vertex-2023-10-16"`, the model in the URL, and beta flags in the `anthropic-beta` header; this
module rewrites exactly that. Vertex answers with Anthropic's Message and stream events unchanged,
so nothing else is translated. Its errors, in Google's envelope or Anthropic's passed through,
become Anthropic errors here, faithfully, so clients retry what is retryable and nothing else.

Credentials come from google-auth, imported only when a backend is built: an `external_account`
configuration (Workload Identity Federation from the Lambda's own AWS role; no stored key), a
service-account or user credential, or Application Default Credentials. One urllib3 pool carries
both the model calls and the token exchanges; tokens are refreshed under a lock.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

from relay.backends.base import BlockingStream, Call, Event, Metrics
from relay.backends.vertex_access import (
    AuthTransport,
    VertexSettings,
    load_credentials,
    new_pool,
)
from relay.errors import ApiError, ErrorType

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
# The fields of Anthropic's count_tokens request; the rest of a Messages body is refused there.
_COUNT_FIELDS = frozenset(
    {
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "context_management",
        "output_config",
    }
)
_CHUNK = 64 * 1024


class VertexBackend:
    """Serves Anthropic Messages from Claude on Vertex AI in one project and location."""

    name = "vertex"

    def __init__(
        self,
        settings: VertexSettings,
        credentials: Credentials,
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._http = http or new_pool(settings)
        self._auth = AuthTransport(self._http, settings)
        self._lock = threading.Lock()
        self._where = f"project {settings.project}, location {settings.region}"

    @classmethod
    def from_settings(
        cls, settings: VertexSettings, credentials: Credentials | None = None
    ) -> VertexBackend:
        """A backend with its pool and credentials built once (reused across warm starts)."""
        http = new_pool(settings)
        if credentials is None:
            auth = AuthTransport(http, settings)
            credentials = load_credentials(settings.credentials_info, auth)
        return cls(settings, credentials, http)

    def invoke(self, call: Call) -> tuple[dict[str, Any], Metrics]:
        started = time.monotonic()
        body, betas = vertex_body(call.body)
        url = self._settings.model_url(call.model_id, "rawPredict")
        with _TransportErrors():
            response = self._post(url, body, betas, stream=False)
        message = _json_object(response.data)
        usage = message.get("usage") or {}
        metrics = Metrics(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            latency_ms=_ms_since(started),
            provider_request_id=_str(message.get("id")),
        )
        return message, metrics

    def stream(self, call: Call) -> BlockingStream:
        started = time.monotonic()
        body, betas = vertex_body(call.body, stream=True)
        url = self._settings.model_url(call.model_id, "streamRawPredict")
        with _TransportErrors():
            response = self._post(url, body, betas, stream=True)
        metrics = Metrics()
        return BlockingStream(
            self._events(response, metrics, started), metrics, lambda: _discard(response)
        )

    def count_tokens(self, call: Call) -> int:
        # Vertex counts against the same publisher model id it serves; no profile ids exist.
        body, betas = vertex_body(call.body)
        counted = {key: value for key, value in body.items() if key in _COUNT_FIELDS}
        counted = {
            "anthropic_version": VERTEX_ANTHROPIC_VERSION,
            "model": call.model_id,
            **counted,
        }
        url = self._settings.model_url("count-tokens", "rawPredict")
        with _TransportErrors():
            response = self._post(url, counted, betas, stream=False)
        tokens = _json_object(response.data).get("input_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise ApiError(ErrorType.API, "Vertex AI returned no token count.", "vertex:bad_count")
        return tokens

    def _authorize(self, url: str, headers: dict[str, str]) -> None:
        """Adds the bearer token, refreshing it first when due; one thread refreshes at a time."""
        from google.auth.exceptions import GoogleAuthError, TransportError

        try:
            with self._lock:
                self._credentials.before_request(self._auth, "POST", url, headers)  # type: ignore[no-untyped-call]
        except TransportError as error:
            raise ApiError(
                ErrorType.API,
                f"Google's token service could not be reached: {error}",
                "vertex:auth_unreachable",
            ) from None
        except GoogleAuthError as error:
            # google-auth's messages name the failing step and Google's error code, never a token.
            raise ApiError(
                ErrorType.PERMISSION,
                f"The relay could not get a Google access token ({str(error)[:300]}). Check "
                "RELAY_VERTEX_CREDENTIALS and that the relay's identity may impersonate the "
                "Vertex AI service account (roles/iam.workloadIdentityUser).",
                "vertex:auth",
            ) from None

    def _post(
        self, url: str, body: dict[str, Any], betas: list[str], *, stream: bool
    ) -> urllib3.BaseHTTPResponse:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "user-agent": "claude-relay-kit",
        }
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        self._authorize(url, headers)
        response = self._http.request(
            "POST", url, body=json.dumps(body).encode(), headers=headers, preload_content=not stream
        )
        if response.status >= 400:
            data = response.read() if stream else response.data
            response.release_conn()
            raise vertex_error(
                response.status,
                data,
                response.headers.get("retry-after"),
                self._where,
            )
        return response

    def _events(
        self, response: urllib3.BaseHTTPResponse, metrics: Metrics, started: float
    ) -> Iterator[Event]:
        stopped = exhausted = False
        try:
            with _TransportErrors():
                for data in _sse_data(response.stream(_CHUNK)):
                    event = _json_object(data)
                    kind = event.get("type")
                    if kind == "ping":
                        continue  # the relay sends its own ping
                    if kind == "error":
                        raise _stream_error(event)
                    if metrics.first_byte_ms is None:
                        metrics.first_byte_ms = _ms_since(started)
                    _note_usage(event, metrics)
                    if kind == "message_stop":
                        metrics.latency_ms = _ms_since(started)
                        stopped = True
                    yield event
            exhausted = True
            if not stopped:
                raise ApiError(
                    ErrorType.API,
                    "Vertex AI ended the stream before message_stop.",
                    "vertex:stream_truncated",
                )
        finally:
            # Only a connection read to its end may go back to the pool.
            if exhausted:
                response.release_conn()
            else:
                _discard(response)


def vertex_body(
    body: Mapping[str, Any], *, stream: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The body Vertex AI takes and the beta flags for its `anthropic-beta` header."""
    betas = body.get("anthropic_beta") or []
    out: dict[str, Any] = {"anthropic_version": VERTEX_ANTHROPIC_VERSION}
    out.update(
        (key, value)
        for key, value in body.items()
        if key not in ("anthropic_version", "anthropic_beta", "model", "stream")
    )
    if stream:
        out["stream"] = True
    return out, [flag for flag in betas if isinstance(flag, str)]


# HTTP status -> the Anthropic error type a client of the Anthropic API would have seen.
_BY_STATUS: dict[int, ErrorType] = {
    400: ErrorType.INVALID_REQUEST,
    # The relay's own Google identity failed: the client cannot fix that with another key.
    401: ErrorType.PERMISSION,
    403: ErrorType.PERMISSION,
    404: ErrorType.NOT_FOUND,
    408: ErrorType.TIMEOUT,
    413: ErrorType.REQUEST_TOO_LARGE,
    429: ErrorType.RATE_LIMIT,
    500: ErrorType.API,
    503: ErrorType.OVERLOADED,
    504: ErrorType.TIMEOUT,
    529: ErrorType.OVERLOADED,
}
_ANTHROPIC_TYPES = {kind.value: kind for kind in ErrorType} | {
    "authentication_error": ErrorType.PERMISSION
}


def _by_status(status: int) -> ErrorType:
    return _BY_STATUS.get(status, ErrorType.INVALID_REQUEST if status < 500 else ErrorType.API)


def _hint(kind: ErrorType, where: str) -> str:
    if kind is ErrorType.PERMISSION:
        return (
            f" (check that the relay's Google identity may call Claude in {where}: its service "
            "account needs aiplatform.endpoints.predict (the kit's invoker role or "
            "roles/aiplatform.user), the relay's AWS role needs roles/iam.workloadIdentityUser "
            "on that account, and the model must be enabled in Vertex AI Model Garden)"
        )
    if kind is ErrorType.NOT_FOUND:
        return (
            f" (the model is not enabled in Vertex AI Model Garden for {where}, or not offered "
            "in that location: enable it on its Model Garden card, or use a location the "
            "catalog lists in vertex_regions)"
        )
    return ""


def _retry_delay(error: Mapping[str, Any]) -> int | None:
    """Seconds from a google.rpc.RetryInfo detail (`"retryDelay": "17s"`), if any."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                return max(1, math.ceil(float(delay)))
            except ValueError:
                return None
    return None


def vertex_error(status: int, body: bytes, retry_after: str | None, where: str) -> ApiError:
    """The Anthropic error for a failed Vertex AI response, Google's or Anthropic's."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, list) and payload:
        payload = payload[0]  # Google sometimes wraps its envelope in a list
    payload = payload if isinstance(payload, dict) else {}
    error = payload.get("error")
    error = error if isinstance(error, dict) else {}
    if payload.get("type") == "error" and isinstance(error.get("type"), str):
        # Anthropic's own error, passed through by Vertex AI.
        name = error["type"]
        kind = _ANTHROPIC_TYPES.get(name, _by_status(status))
        text = f"Vertex AI ({name}): {error.get('message', '')}"
        code = f"vertex:{name}"
    else:
        name = str(error.get("status") or f"HTTP {status}")
        kind = _by_status(status)
        text = f"Vertex AI {name}: {error.get('message') or 'no details given'}"
        code = f"vertex:{name.replace(' ', '_')}"
    wait = int(retry_after) if retry_after and retry_after.isdigit() else _retry_delay(error)
    # Only Google's own delay: the relay's retries honour it, and the relay tells its clients
    # a default when Google named none.
    headers = {"retry-after": str(wait)} if wait and kind in _WAITS else {}
    return ApiError(kind, f"{text}{_hint(kind, where)}", code, headers)


_WAITS = (ErrorType.RATE_LIMIT, ErrorType.OVERLOADED)


def _stream_error(event: Mapping[str, Any]) -> ApiError:
    """The ApiError of an Anthropic `error` event that ended a stream."""
    error = event.get("error")
    error = error if isinstance(error, dict) else {}
    name = str(error.get("type", "api_error"))
    kind = _ANTHROPIC_TYPES.get(name, ErrorType.API)
    text = f"Vertex AI ({name}) during the stream: {error.get('message', '')}"
    return ApiError(kind, text, f"vertex:{name}")


class _TransportErrors:
    """Turns urllib3 failures inside a `with` block into ApiError; the rest passes unchanged."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> Literal[False]:
        if isinstance(error, NewConnectionError):  # before its base class, ConnectTimeoutError
            raise ApiError(ErrorType.API, "Vertex AI could not be reached.", "vertex:unreachable")
        if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
            raise ApiError(ErrorType.TIMEOUT, "Vertex AI did not answer in time.", "vertex:timeout")
        if isinstance(error, HTTPError):
            raise ApiError(
                ErrorType.API,
                f"The connection to Vertex AI failed ({type(error).__name__}).",
                "vertex:connection",
            )
        return False


def _sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The `data` of each Server-Sent Event in a byte stream (lines joined as the spec says)."""
    buffer = b""
    data: list[bytes] = []
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data)
                data = []
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
    if data:
        yield b"\n".join(data)


def _note_usage(event: Mapping[str, Any], metrics: Metrics) -> None:
    kind = event.get("type")
    if kind == "message_start":
        message = event.get("message") or {}
        usage = message.get("usage") or {}
        metrics.input_tokens = _int(usage.get("input_tokens"))
        metrics.output_tokens = _int(usage.get("output_tokens"))
        metrics.provider_request_id = _str(message.get("id"))
    elif kind == "message_delta":
        usage = event.get("usage") or {}
        # Output tokens are cumulative; newer streams also restate input tokens here.
        for name in ("input_tokens", "output_tokens"):
            value = _int(usage.get(name))
            if value is not None:
                setattr(metrics, name, value)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Drops a connection whose stream was not read to its end (it cannot be reused)."""
    response.close()
    response.release_conn()


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise ApiError(
            ErrorType.API, "Vertex AI returned a body that is not JSON.", "vertex:bad_body"
        )
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
