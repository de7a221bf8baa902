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
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

from relay.backends.base import Call, Event, Metrics, Stream
from relay.errors import ApiError, ErrorType
from relay.settings import ConfigError, env_number

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# What google-auth names the subject token of an AWS-federated external account.
_AWS_SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"  # noqa: S105
_CREDENTIAL_TYPES = ("external_account", "service_account", "authorized_user")
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
_AUTH_READ_TIMEOUT = 30.0

_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
# `global`, the `us`/`eu` multi-regions, or a region such as us-east5 or europe-west1.
_REGION = re.compile(r"global|us|eu|[a-z]+(?:-[a-z]+)+\d+")


@dataclass(frozen=True)
class VertexSettings:
    """Where and as whom the relay calls Claude on Vertex AI.

    credentials_info: a parsed google-auth credential JSON; None uses Application Default
        Credentials. Never printed (it may hold a service-account key).
    endpoint_url: scheme and host replacing Google's (the simulator); paths stay Vertex's.
    """

    project: str
    region: str = "global"
    credentials_info: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    max_connections: int = 64

    def __post_init__(self) -> None:
        if not _PROJECT.fullmatch(self.project):
            raise ConfigError(
                f"RELAY_VERTEX_PROJECT={self.project!r} is not a Google Cloud project id "
                "(6-30 lowercase letters, digits and hyphens, e.g. my-project-123)"
            )
        if not _REGION.fullmatch(self.region):
            raise ConfigError(
                f"RELAY_VERTEX_REGION={self.region!r} is not a Vertex AI location; use global, "
                "us, eu or a region such as us-east5 or europe-west1"
            )
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(
                    f"RELAY_VERTEX_ENDPOINT_URL={self.endpoint_url!r} is not an http(s) URL "
                    "(give scheme and host, e.g. http://127.0.0.1:8787)"
                )
        for name, value in (
            ("RELAY_CONNECT_TIMEOUT", self.connect_timeout),
            ("RELAY_READ_TIMEOUT", self.read_timeout),
        ):
            if value <= 0:
                raise ConfigError(f"{name}={value!r} must be greater than zero")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> VertexSettings:
        """RELAY_VERTEX_PROJECT (required), RELAY_VERTEX_REGION (default global),
        RELAY_VERTEX_CREDENTIALS (a credential JSON or a path to one; default ADC),
        RELAY_VERTEX_ENDPOINT_URL, and the relay-wide RELAY_CONNECT_TIMEOUT and
        RELAY_READ_TIMEOUT."""
        project = env.get("RELAY_VERTEX_PROJECT", "").strip()
        if not project:
            raise ConfigError(
                "RELAY_VERTEX_PROJECT is not set: name the Google Cloud project whose Vertex AI "
                "serves Claude (its project id, e.g. my-project-123)"
            )
        return cls(
            project=project,
            region=env.get("RELAY_VERTEX_REGION", "").strip() or "global",
            credentials_info=parse_credentials(env.get("RELAY_VERTEX_CREDENTIALS", "")),
            endpoint_url=env.get("RELAY_VERTEX_ENDPOINT_URL", "").strip() or None,
            connect_timeout=env_number(env, "RELAY_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=env_number(env, "RELAY_READ_TIMEOUT", cls.read_timeout),
        )

    @property
    def base_url(self) -> str:
        """Scheme and host: the location's own host, `aiplatform.googleapis.com` for global."""
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/")
        if self.region == "global":
            return "https://aiplatform.googleapis.com"
        if self.region in ("us", "eu"):
            return f"https://aiplatform.{self.region}.rep.googleapis.com"
        return f"https://{self.region}-aiplatform.googleapis.com"

    def model_url(self, model: str, method: str) -> str:
        return (
            f"{self.base_url}/v1/projects/{self.project}/locations/{self.region}"
            f"/publishers/anthropic/models/{quote(model, safe='@.-_')}:{method}"
        )


def parse_credentials(value: str) -> dict[str, Any] | None:
    """RELAY_VERTEX_CREDENTIALS: a google-auth credential JSON, inline or as a path to a file.

    Errors name the variable but never repeat its content.
    """
    value = value.strip()
    if not value:
        return None
    source = "RELAY_VERTEX_CREDENTIALS"
    text = value
    if not value.startswith("{"):
        source = f"RELAY_VERTEX_CREDENTIALS ({value})"
        try:
            text = Path(value).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"{source} cannot be read ({error.strerror}): give the credential JSON that "
                "stacks/gcp outputs (credential_config), or the path of a file holding it"
            ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(f"{source} is not valid JSON") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind not in _CREDENTIAL_TYPES:
        raise ConfigError(
            f"{source} has credential type {kind!r}; use one of {', '.join(_CREDENTIAL_TYPES)} "
            "(external_account is the keyless one stacks/gcp outputs)"
        )
    info_dict: dict[str, Any] = info
    return info_dict


def load_credentials(info: Mapping[str, Any] | None, request: Any = None) -> Credentials:
    """google-auth credentials for `info`, built without any network call (tokens come later).

    google-auth's generic loaders would look the project up over the network at once; the
    project is configured here, so each type is built directly. `request` (a google-auth
    transport) serves Application Default Credentials' discovery when `info` is None.
    """
    from google.auth.exceptions import GoogleAuthError

    if info is None:
        import google.auth

        try:
            credentials, _ = google.auth.default(scopes=[SCOPE], request=request)
        except GoogleAuthError as error:
            raise ConfigError(
                "RELAY_VERTEX_CREDENTIALS is not set and Application Default Credentials were "
                f"not found ({error}); on AWS give the credential JSON stacks/gcp outputs"
            ) from None
        return credentials
    kind = info.get("type")
    try:
        if kind == "external_account":
            if info.get("subject_token_type") == _AWS_SUBJECT_TOKEN_TYPE:
                from google.auth import aws

                return _built(aws.Credentials.from_info, info)
            from google.auth import identity_pool

            return _built(identity_pool.Credentials.from_info, info)
        if kind == "service_account":
            from google.oauth2 import service_account

            return _built(service_account.Credentials.from_service_account_info, info)
        if kind == "authorized_user":
            from google.oauth2 import credentials as user

            return _built(user.Credentials.from_authorized_user_info, info)
    except (ValueError, GoogleAuthError) as error:
        raise ConfigError(f"RELAY_VERTEX_CREDENTIALS could not be loaded: {error}") from None
    raise ConfigError(f"RELAY_VERTEX_CREDENTIALS has unsupported credential type {kind!r}")


def _built(factory: Any, info: Mapping[str, Any]) -> Credentials:
    # google-auth's constructors carry no annotations; the result is what their names say.
    return cast("Credentials", factory(dict(info), scopes=[SCOPE]))


class _AuthResponse:
    """google-auth's transport response, read from a preloaded urllib3 response."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers  # case-insensitive, as google-auth expects
        self.data = response.data


class _AuthTransport:
    """google-auth's transport contract on the backend's pool, so token exchanges (STS,
    iamcredentials) reuse its connections and timeouts, and nothing logs their bodies."""

    def __init__(self, http: urllib3.PoolManager, settings: VertexSettings) -> None:
        self._http = http
        # Token exchanges are small: a stalled one should not hold a request for minutes.
        read = min(settings.read_timeout, _AUTH_READ_TIMEOUT)
        self._timeout = urllib3.Timeout(connect=settings.connect_timeout, read=read)

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> _AuthResponse:
        from google.auth.exceptions import TransportError

        try:
            response = self._http.request(
                method,
                url,
                body=body,
                headers=dict(headers or {}),
                timeout=self._timeout if timeout is None else timeout,
            )
        except HTTPError as error:
            message = f"{type(error).__name__} calling {urlsplit(url).netloc}"
            raise TransportError(message) from None  # type: ignore[no-untyped-call]
        return _AuthResponse(response)


def new_pool(settings: VertexSettings) -> urllib3.PoolManager:
    """One pool for Vertex and the token hosts; the client decides about retries."""
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=settings.max_connections,
        timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        retries=False,
    )


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
        self._auth = _AuthTransport(self._http, settings)
        self._lock = threading.Lock()
        self._where = f"project {settings.project}, location {settings.region}"

    @classmethod
    def from_settings(
        cls, settings: VertexSettings, credentials: Credentials | None = None
    ) -> VertexBackend:
        """A backend with its pool and credentials built once (reused across warm starts)."""
        http = new_pool(settings)
        if credentials is None:
            auth = _AuthTransport(http, settings)
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

    def stream(self, call: Call) -> Stream:
        started = time.monotonic()
        body, betas = vertex_body(call.body, stream=True)
        url = self._settings.model_url(call.model_id, "streamRawPredict")
        with _TransportErrors():
            response = self._post(url, body, betas, stream=True)
        metrics = Metrics()
        return Stream(self._events(response, metrics, started), metrics, lambda: _discard(response))

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
