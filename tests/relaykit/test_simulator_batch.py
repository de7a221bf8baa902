"""The simulator's batch inference jobs through boto3's own `bedrock` client, with S3 in an
embedded AWS: the control plane's wire format as botocore reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from relay.catalog import DEFAULT_MODEL
from relaykit.local_aws import LocalAws
from relaykit.simulator import SimulatorConfig, SimulatorServer, simulator_session
from relaykit.simulator.batch import FAIL_RECORD

BUCKET = "simulator-batches"
ROLE = "arn:aws:iam::123456789012:role/batch"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as running:
        yield running


@pytest.fixture
def s3(aws: LocalAws) -> Any:
    client = aws.session().client("s3", endpoint_url=aws.endpoint_url)
    client.create_bucket(Bucket=BUCKET)
    return client


def _bedrock(simulator: SimulatorServer) -> Any:
    return simulator_session().client("bedrock", endpoint_url=simulator.endpoint_url)


def _records(count: int, marked: int | None = None) -> bytes:
    lines = []
    for n in range(count):
        text = f"record {n}" + (f" {FAIL_RECORD}" if n == marked else "")
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": text}],
        }
        lines.append(json.dumps({"recordId": f"R{n:010d}", "modelInput": body}))
    return "\n".join(lines).encode()


def _create(bedrock: Any, name: str) -> str:
    arn: str = bedrock.create_model_invocation_job(
        jobName=name,
        roleArn=ROLE,
        modelId=DEFAULT_MODEL.bedrock_id,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/in/{name}.jsonl"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/"}},
    )["jobArn"]
    return arn


def test_a_job_writes_bedrocks_output_with_a_failed_record(aws: LocalAws, s3: Any) -> None:
    config = SimulatorConfig(batch_min_records=3, s3_endpoint_url=aws.endpoint_url)
    with SimulatorServer(config) as simulator:
        bedrock = _bedrock(simulator)
        s3.put_object(Bucket=BUCKET, Key="in/a.jsonl", Body=_records(3, marked=1))
        arn = _create(bedrock, "a")
        job = bedrock.get_model_invocation_job(jobIdentifier=arn)
        assert job["status"] == "Completed"
        assert job["endTime"] >= job["submitTime"]
        job_id = arn.rsplit("/", 1)[-1]
        out = s3.get_object(Bucket=BUCKET, Key=f"out/{job_id}/a.jsonl.out")["Body"].read()
        lines = [json.loads(line) for line in out.splitlines()]
        assert [line["recordId"] for line in lines] == [f"R{n:010d}" for n in range(3)]
        assert lines[0]["modelOutput"]["type"] == "message"
        assert lines[1]["error"]["errorCode"] == 400
        manifest = s3.get_object(Bucket=BUCKET, Key=f"out/{job_id}/manifest.json.out")
        counts = json.loads(manifest["Body"].read())
        assert (counts["successRecordCount"], counts["errorRecordCount"]) == (2, 1)
        listed = bedrock.list_model_invocation_jobs()["invocationJobSummaries"]
        assert [j["jobArn"] for j in listed] == [arn]


def test_a_stopped_job_ends_stopped_and_a_small_one_fails_validation(
    aws: LocalAws, s3: Any
) -> None:
    config = SimulatorConfig(
        batch_seconds=60, batch_min_records=3, s3_endpoint_url=aws.endpoint_url
    )
    with SimulatorServer(config) as simulator:
        bedrock = _bedrock(simulator)
        s3.put_object(Bucket=BUCKET, Key="in/b.jsonl", Body=_records(3))
        arn = _create(bedrock, "b")
        assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Submitted"
        bedrock.stop_model_invocation_job(jobIdentifier=arn)
        assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopped"
        with pytest.raises(bedrock.exceptions.ValidationException):
            bedrock.stop_model_invocation_job(jobIdentifier=arn)
    small = SimulatorConfig(batch_min_records=100, s3_endpoint_url=aws.endpoint_url)
    with SimulatorServer(small) as simulator:
        bedrock = _bedrock(simulator)
        s3.put_object(Bucket=BUCKET, Key="in/c.jsonl", Body=_records(3))
        job = bedrock.get_model_invocation_job(jobIdentifier=_create(bedrock, "c"))
        assert job["status"] == "Failed"
        assert "minimum of 100 records" in job["message"]
