"""Records of a batch on both sides: Bedrock's batch inference lines (input `recordId` and
`modelInput`; output the same with `modelOutput` or `error`) and Anthropic's result lines
(`custom_id` and `result`). No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from relay.batches.state import ResultType
from relay.errors import ErrorType

# Bedrock's examples use 11-character alphanumeric record ids.
_RECORD_PREFIX = "R"

_ERROR_TYPES = {
    400: ErrorType.INVALID_REQUEST,
    403: ErrorType.PERMISSION,
    404: ErrorType.NOT_FOUND,
    408: ErrorType.TIMEOUT,
    413: ErrorType.REQUEST_TOO_LARGE,
    429: ErrorType.RATE_LIMIT,
    503: ErrorType.OVERLOADED,
}


def record_id(index: int) -> str:
    return f"{_RECORD_PREFIX}{index:010d}"


def index_of(record: str) -> int | None:
    digits = record[len(_RECORD_PREFIX) :]
    return int(digits) if record.startswith(_RECORD_PREFIX) and digits.isdigit() else None


def input_line(index: int, body: dict[str, Any]) -> bytes:
    return _line({"recordId": record_id(index), "modelInput": body})


def error_payload(kind: ErrorType, message: str) -> dict[str, Any]:
    """An error as a result carries it: Anthropic's error response."""
    return {"type": "error", "error": {"type": kind.value, "message": message}}


def errored(kind: ErrorType, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": error_payload(kind, message)}


def output_result(line: dict[str, Any], model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Bedrock output line as an Anthropic result, and the usage to meter for it."""
    output = line.get("modelOutput")
    if isinstance(output, dict) and output.get("type") == "message":
        message = {**output, "model": model_name}
        usage = output.get("usage")
        return {"type": "succeeded", "message": message}, usage if isinstance(usage, dict) else {}
    error = line.get("error")
    code = error.get("errorCode") if isinstance(error, dict) else None
    text = error.get("errorMessage") if isinstance(error, dict) else None
    kind = _ERROR_TYPES.get(code, ErrorType.API) if isinstance(code, int) else ErrorType.API
    return errored(kind, str(text or "Bedrock batch inference failed this record.")), {}


def unanswered(kind: ResultType, job_message: str | None) -> dict[str, Any]:
    """The result of a record its job never answered."""
    if kind == "errored":
        return errored(ErrorType.API, job_message or "The Bedrock batch job failed.")
    return {"type": kind}


def result_line(custom_id: str, result: dict[str, Any]) -> bytes:
    return _line({"custom_id": custom_id, "result": result})


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"
