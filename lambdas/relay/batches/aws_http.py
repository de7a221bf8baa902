"""Blocking SigV4-signed calls to S3 and to Bedrock's control plane: botocore's signer and
credential chain, botocore's urllib3 session for the wire (both already in the relay's bundle).

Why not boto3 clients: their service models (s3 and bedrock, ~0.3 MB zipped) do not fit the
Lambda bundle's size target, and the relay makes seven simple calls. Called from worker threads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.etree import ElementTree

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.httpsession import URLLib3Session

from relay.backends.signed_http import LazySigner

if TYPE_CHECKING:
    from botocore.credentials import Credentials

_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class AwsFailure(Exception):
    """An AWS error response: its code (x-amzn-ErrorType or S3's <Code>), status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code, self.status, self.message = code, status, message


class SignedClient:
    """Signs and sends requests to one service endpoint in one region."""

    def __init__(
        self,
        credentials: Callable[[], Credentials | None],
        service: str,
        region: str,
        endpoint: str,
        timeout: int = 30,
    ) -> None:
        self._service = service
        self.endpoint = endpoint.rstrip("/")
        # Thread-safe (urllib3's pool); like botocore's clients, no proxies unless configured.
        self._http = URLLib3Session(timeout=timeout)
        self._sigv4 = LazySigner(
            credentials, service, region, S3SigV4Auth if service == "s3" else SigV4Auth
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> AWSResponse:
        """`path` already percent-encoded; an error status raises AwsFailure, a broken or
        timed-out connection botocore's HTTPClientError."""
        url = self.endpoint + path
        if query:
            url += "?" + "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items()
            )
        sent = dict(headers or {})
        if self._service == "s3":
            sent["X-Amz-Content-SHA256"] = _sha256(body)
        signed = AWSRequest(method=method, url=url, data=body, headers=sent)
        self._sigv4().add_auth(signed)
        response = self._http.send(signed.prepare())
        if response.status_code >= 400:
            raise _failure(response)
        return response


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256


def _failure(response: AWSResponse) -> AwsFailure:
    code = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
    message = ""
    text = response.content.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        try:
            root = ElementTree.fromstring(text)  # noqa: S314 - AWS's own error document
            code = code or (root.findtext("Code") or "")
            message = root.findtext("Message") or ""
        except ElementTree.ParseError:
            pass
    elif text:
        try:
            payload: Any = json.loads(text)
            message = str(payload.get("message") or payload.get("Message") or "")
        except ValueError:
            message = text[:200]
    return AwsFailure(code or f"http_{response.status_code}", response.status_code, message)
