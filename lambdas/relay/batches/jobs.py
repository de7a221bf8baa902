"""Bedrock batch inference jobs through the control plane (the `bedrock` service, not
bedrock-runtime; its REST-JSON API signed by hand, see `aws_http`): create, read and stop one
job. Failures become ApiErrors here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from botocore.exceptions import HTTPClientError

from relay.backends.signed_http import NoCredentials
from relay.batches.aws_http import AwsFailure, SignedClient
from relay.errors import ApiError, ErrorType

# Bedrock's shortest job timeout, and Anthropic's expiry of a batch.
TIMEOUT_HOURS = 24


@dataclass(frozen=True)
class JobStatus:
    status: str
    message: str | None
    # When the job ended (Bedrock's endTime), the moment its records are settled at.
    end_time: datetime | None


@dataclass(frozen=True)
class JobRequest:
    name: str
    token: str
    model_id: str
    input_uri: str
    output_uri: str


class BedrockJobs:
    def __init__(self, client: SignedClient, role_arn: str) -> None:
        self._client = client
        self._role_arn = role_arn

    def create(self, job: JobRequest) -> str:
        body = {
            "jobName": job.name,
            "clientRequestToken": job.token,
            "roleArn": self._role_arn,
            "modelId": job.model_id,
            "inputDataConfig": {
                "s3InputDataConfig": {"s3Uri": job.input_uri, "s3InputFormat": "JSONL"}
            },
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": job.output_uri}},
            "timeoutDurationInHours": TIMEOUT_HOURS,
        }
        with _errors("start a Bedrock batch job"):
            response = self._client.send(
                "POST",
                "/model-invocation-job",
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
        arn: str = json.loads(response.content)["jobArn"]
        return arn

    def get(self, job_arn: str) -> JobStatus:
        with _errors("read a Bedrock batch job"):
            job = json.loads(self._client.send("GET", _job_path(job_arn)).content)
        end = job.get("endTime")
        return JobStatus(
            job["status"], job.get("message"), datetime.fromisoformat(end) if end else None
        )

    def stop(self, job_arn: str) -> None:
        with _errors("stop a Bedrock batch job"):
            try:
                self._client.send("POST", _job_path(job_arn) + "/stop")
            except AwsFailure as failure:
                # A job that ended meanwhile cannot be stopped; the next read says how it ended.
                if failure.code != "ValidationException":
                    raise


def _job_path(job_arn: str) -> str:
    return "/model-invocation-job/" + quote(job_arn, safe="")


_KINDS = {
    "ServiceQuotaExceededException": ErrorType.RATE_LIMIT,
    "ThrottlingException": ErrorType.RATE_LIMIT,
    "AccessDeniedException": ErrorType.PERMISSION,
}


@contextmanager
def _errors(what: str) -> Iterator[None]:
    try:
        yield
    except AwsFailure as failure:
        kind = _KINDS.get(failure.code, ErrorType.API)
        message = f"The relay could not {what}: {failure.code}: {failure.message}"
        raise ApiError(kind, message, "batch_job") from None
    except (HTTPClientError, NoCredentials) as error:
        raise ApiError(ErrorType.API, f"The relay could not {what}.", "batch_job") from error
