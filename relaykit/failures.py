"""Errors a user can act on: one line that names the flag they typed and the fix.

`Failure` is raised by commands; `describe` turns it, and the library errors a newcomer meets
(no region, no credentials, a missing table), into that line. The CLI prints it once.
"""

from __future__ import annotations

import errno

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

_NO_REGION = (
    "no AWS region: pass --region (e.g. --region us-east-1), set AWS_REGION, or run aws configure"
)
_NO_CREDENTIALS = (
    "no AWS credentials found: configure a profile (aws configure / AWS_PROFILE) or export "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


class Failure(Exception):
    """Something the user must change; the message says what and how."""


def bind_failure(error: OSError, port: int) -> Failure:
    """`error` from binding a server's port, with the flag that fixes it."""
    if error.errno == errno.EADDRINUSE:
        hint = f"pick a free port with --port (e.g. --port {port + 1}) or stop what holds it"
    elif error.errno == errno.EACCES:
        hint = "ports below 1024 need privileges: use a --port above 1023"
    else:
        hint = "use --host 127.0.0.1 (or an address of this machine)"
    return Failure(f"{error}; {hint}")


def describe(error: BaseException) -> str:
    """The one line shown for `error`."""
    if isinstance(error, NoRegionError):
        return _NO_REGION
    if isinstance(error, NoCredentialsError):
        return _NO_CREDENTIALS
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url')}: check --endpoint-url / --region"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())
        if message.startswith("<"):
            # An HTML error page (a proxy, or an API the endpoint does not implement).
            message = "an HTML error page, not an AWS API answer"
        return f"AWS said {code}: {message[:200]}"
    if isinstance(error, Failure | OSError | LookupError | RuntimeError | ValueError):
        text = str(error)
        if isinstance(error, LookupError) and text.startswith("'"):
            text = text.strip("'")
        return text
    return f"{type(error).__name__}: {error}"
