"""Where and as whom the relay reaches Vertex AI: settings from the environment, google-auth
credentials built without network calls (an `external_account` federation config from the AWS
role, a service account, a user, or Application Default Credentials), and the one urllib3 pool
that carries both model calls and token exchanges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from relay.settings import ConfigError, env_number

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# What google-auth names the subject token of an AWS-federated external account.
_AWS_SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"  # noqa: S105
_CREDENTIAL_TYPES = ("external_account", "service_account", "authorized_user")
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
    try:
        from google.auth.exceptions import GoogleAuthError
    except ImportError:
        # The Lambda package leaves google-auth out unless it is bundled for Vertex AI.
        raise ConfigError(
            "Vertex AI is configured (RELAY_VERTEX_PROJECT) but google-auth is not installed: "
            "on AWS Lambda bundle the relay for Vertex AI (stacks/aws/bundling.py, "
            "relay_code(architecture, vertex=True)); elsewhere pip install google-auth"
        ) from None

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


class AuthTransport:
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
