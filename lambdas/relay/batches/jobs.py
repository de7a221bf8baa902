"""Bedrock batch inference jobs through the control plane (the `bedrock` service, not
bedrock-runtime): create, read and stop one job. Failures become ApiErrors here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from relay.errors import ApiError, ErrorType

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient

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
    def __init__(self, client: BedrockClient, role_arn: str) -> None:
        self._client = client
        self._role_arn = role_arn

    def create(self, job: JobRequest) -> str:
        with _errors("start a Bedrock batch job"):
            created = self._client.create_model_invocation_job(
                jobName=job.name,
                clientRequestToken=job.token,
                roleArn=self._role_arn,
                modelId=job.model_id,
                inputDataConfig={
                    "s3InputDataConfig": {"s3Uri": job.input_uri, "s3InputFormat": "JSONL"}
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": job.output_uri}},
                timeoutDurationInHours=TIMEOUT_HOURS,
            )
        return created["jobArn"]

    def get(self, job_arn: str) -> JobStatus:
        with _errors("read a Bedrock batch job"):
            job = self._client.get_model_invocation_job(jobIdentifier=job_arn)
        return JobStatus(job["status"], job.get("message"), job.get("endTime"))

    def stop(self, job_arn: str) -> None:
        with _errors("stop a Bedrock batch job"):
            try:
                self._client.stop_model_invocation_job(jobIdentifier=job_arn)
            except ClientError as error:
                # A job that ended meanwhile cannot be stopped; the next read says how it ended.
                if error.response["Error"]["Code"] != "ValidationException":
                    raise


_KINDS = {
    "ServiceQuotaExceededException": ErrorType.RATE_LIMIT,
    "ThrottlingException": ErrorType.RATE_LIMIT,
    "AccessDeniedException": ErrorType.PERMISSION,
}


@contextmanager
def _errors(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        kind = _KINDS.get(code, ErrorType.API)
        raise ApiError(
            kind, f"The relay could not {what}: {code}: {message}", "batch_job"
        ) from None
    except BotoCoreError as error:
        raise ApiError(ErrorType.API, f"The relay could not {what}.", "batch_job") from error
