"""Bedrock's batch inference control plane, simulated: CreateModelInvocationJob,
GetModelInvocationJob, ListModelInvocationJobs and StopModelInvocationJob.

A job reads its JSONL input from S3 (moto, in tests and local mode) and, `batch_seconds` after it
was submitted, writes its output as Bedrock does: `<output uri><job id>/<input name>.out`, one
line per record with `modelOutput` (the simulator's reply) or `error`, and `manifest.json.out`.
Nothing runs in the background: a job moves on when it is read, as a poller would see it.

Markers in a record's input (anywhere in its text) ask for failures:
    simulate:batch-record-error   that record fails (an `error` line, errorCode 400)
    simulate:batch-job-failure    the whole job fails (status Failed, no output)
A job with fewer records than `batch_min_records` fails its validation, as Bedrock's does, and a
fault queued with `POST /_simulator/faults` (`quota`, say) fails the next CreateModelInvocationJob.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaykit.simulator.client import DUMMY_REGION, simulator_session
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.errors import BedrockError, ErrorType, render
from relaykit.simulator.request import parse_invoke_body

if TYPE_CHECKING:
    from relaykit.simulator.state import SimulatorState

FAIL_RECORD = "simulate:batch-record-error"
FAIL_JOB = "simulate:batch-job-failure"
_ACCOUNT = "123456789012"
_RUNNING = ("Submitted", "Validating", "Scheduled", "InProgress", "Stopping")


@dataclass
class Job:
    arn: str
    name: str
    model_id: str
    role_arn: str
    token: str | None
    input_uri: str
    output_uri: str
    submitted: datetime
    due: float
    status: str = "Submitted"
    message: str | None = None
    ended: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.model_id,
            "roleArn": self.role_arn,
            "status": self.status,
            "submitTime": _time(self.submitted),
            "lastModifiedTime": _time(self.ended or self.submitted),
            "inputDataConfig": {
                "s3InputDataConfig": {"s3Uri": self.input_uri, "s3InputFormat": "JSONL"}
            },
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": self.output_uri}},
            "timeoutDurationInHours": 24,
            **self.counts,
        }
        if self.token:
            shown["clientRequestToken"] = self.token
        if self.message:
            shown["message"] = self.message
        if self.ended:
            shown["endTime"] = _time(self.ended)
        return shown


class BatchJobs:
    """The simulator's batch jobs; safe to use from several threads."""

    def __init__(self, config: SimulatorConfig, state: SimulatorState) -> None:
        self._config = config
        self._state = state
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()

    def _s3(self) -> Any:
        session = simulator_session() if self._config.s3_endpoint_url else boto3.session.Session()
        return session.client(
            "s3", region_name=DUMMY_REGION, endpoint_url=self._config.s3_endpoint_url
        )

    def create(self, body: dict[str, Any]) -> str:
        # Queued faults apply here too (`quota`: Bedrock's limit of jobs in progress).
        upfront = self._state.faults.draw(streaming=False).upfront
        if upfront is not None:
            raise BedrockError.of(upfront)
        try:
            name, role = str(body["jobName"]), str(body["roleArn"])
            model_id = str(body["modelId"])
            input_uri = body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
            output_uri = body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        except (KeyError, TypeError):
            raise BedrockError.validation(
                "jobName, roleArn, modelId, inputDataConfig.s3InputDataConfig.s3Uri and "
                "outputDataConfig.s3OutputDataConfig.s3Uri are required"
            ) from None
        self._state.models.resolve(model_id)
        token = body.get("clientRequestToken")
        with self._lock:
            same = next((j for j in self._jobs.values() if token and j.token == token), None)
            if same is not None:
                return same.arn
            arn = f"arn:aws:bedrock:{DUMMY_REGION}:{_ACCOUNT}:model-invocation-job/"
            arn += secrets.token_hex(6)
            self._jobs[arn] = Job(
                arn,
                name,
                model_id,
                role,
                token,
                input_uri,
                output_uri,
                datetime.now(UTC),
                time.monotonic() + self._config.batch_seconds,
            )
        return arn

    def get(self, arn: str) -> Job:
        with self._lock:
            job = self._jobs.get(arn)
            if job is None:
                raise BedrockError(ErrorType.RESOURCE_NOT_FOUND, f"Job {arn} was not found.")
            if job.status == "Stopping":
                job.status, job.ended = "Stopped", datetime.now(UTC)
            elif job.status in _RUNNING and time.monotonic() >= job.due:
                self._run(job)
            return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.submitted, reverse=True)

    def stop(self, arn: str) -> None:
        job = self.get(arn)
        with self._lock:
            if job.status not in _RUNNING:
                raise BedrockError.validation(f"Job {arn} has ended ({job.status}).")
            job.status = "Stopping"

    def _run(self, job: Job) -> None:
        """Process the job's records: its output in S3, its final status."""
        s3 = self._s3()
        bucket, key = _split(job.input_uri)
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        job.ended = datetime.now(UTC)
        if len(lines) < self._config.batch_min_records:
            job.status = "Failed"
            job.message = (
                f"The job has {len(lines)} records, fewer than the minimum of "
                f"{self._config.batch_min_records} records per batch inference job."
            )
            return
        if any(FAIL_JOB in json.dumps(line) for line in lines):
            job.status, job.message = "Failed", "The batch inference job failed (simulated)."
            return
        model = self._state.models.resolve(job.model_id)
        out: list[bytes] = []
        errors = 0
        tokens = {"input": 0, "output": 0}
        for line in lines:
            record: dict[str, Any] = {"recordId": line.get("recordId"), **line}
            try:
                if FAIL_RECORD in json.dumps(line.get("modelInput")):
                    raise BedrockError.validation("The record failed (simulated).")
                request = parse_invoke_body(json.dumps(line.get("modelInput")).encode(), model)
                message = self._state.respond(request)
                record["modelOutput"] = message
                tokens["input"] += message["usage"]["input_tokens"]
                tokens["output"] += message["usage"]["output_tokens"]
            except BedrockError as error:
                errors += 1
                record["error"] = {"errorCode": error.type.status, "errorMessage": error.message}
            out.append(json.dumps(record).encode())
        out_bucket, out_prefix = _split(job.output_uri)
        folder = f"{out_prefix.rstrip('/')}/{job.job_id}/"
        name = key.rsplit("/", 1)[-1]
        s3.put_object(Bucket=out_bucket, Key=f"{folder}{name}.out", Body=b"\n".join(out) + b"\n")
        job.counts = {
            "totalRecordCount": len(lines),
            "processedRecordCount": len(lines),
            "successRecordCount": len(lines) - errors,
            "errorRecordCount": errors,
        }
        manifest = {
            **{k: v for k, v in job.counts.items()},
            "inputTokenCount": tokens["input"],
            "outputTokenCount": tokens["output"],
        }
        s3.put_object(
            Bucket=out_bucket, Key=f"{folder}manifest.json.out", Body=json.dumps(manifest).encode()
        )
        job.status = "Completed"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _jobs(request: Request) -> BatchJobs:
    state: SimulatorState = request.app.state.simulator
    return state.batches


def _job_arn(request: Request) -> str:
    return str(request.path_params["job"])


async def create_job(request: Request) -> Response:
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise BedrockError.validation("The request body must be a JSON object.")
        arn = _jobs(request).create(body)
    except BedrockError as error:
        return render(error, secrets.token_hex(8))
    except ValueError:
        return render(BedrockError.validation("The body is not JSON."), secrets.token_hex(8))
    return JSONResponse({"jobArn": arn})


async def get_job(request: Request) -> Response:
    try:
        return JSONResponse(_jobs(request).get(_job_arn(request)).view())
    except BedrockError as error:
        return render(error, secrets.token_hex(8))


async def list_jobs(request: Request) -> Response:
    jobs = [job.view() for job in _jobs(request).jobs()]
    return JSONResponse({"invocationJobSummaries": jobs})


async def stop_job(request: Request) -> Response:
    try:
        _jobs(request).stop(_job_arn(request))
    except BedrockError as error:
        return render(error, secrets.token_hex(8))
    return JSONResponse({})


def routes() -> list[Route]:
    return [
        Route("/model-invocation-job", create_job, methods=["POST"]),
        Route("/model-invocation-jobs", list_jobs, methods=["GET"]),
        Route("/model-invocation-job/{job:path}/stop", stop_job, methods=["POST"]),
        Route("/model-invocation-job/{job:path}", get_job, methods=["GET"]),
    ]
