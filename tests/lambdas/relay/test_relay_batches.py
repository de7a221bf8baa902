"""Message Batches end to end with the anthropic SDK: the relay in front of the simulator's
Bedrock batch jobs, with S3 and the keys table in an embedded AWS (moto's server)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request
from relay_harness import TABLE, Gateway, forget_breakers, start_relay

from relay.catalog import BATCH_PRICE_FACTOR, DEFAULT_MODEL
from relay.dynamo import DynamoStore
from relay.pricing import cost_usd
from relaykit.local_aws import LocalAws
from relaykit.simulator import SimulatorConfig, SimulatorServer
from relaykit.simulator.batch import FAIL_JOB, FAIL_RECORD
from relaykit.table import create_table

BUCKET = "relay-batches-test"
MINIMUM = 100
MODEL = DEFAULT_MODEL.alias
# Long enough for a cancel to land before the job's output, short enough to wait for.
JOB_SECONDS = 0.5


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as running:
        session = running.session()
        session.client("s3", endpoint_url=running.endpoint_url).create_bucket(Bucket=BUCKET)
        yield running


@pytest.fixture(scope="module")
def gateway(aws: LocalAws) -> Iterator[Gateway]:
    config = SimulatorConfig(
        batch_seconds=JOB_SECONDS, batch_min_records=MINIMUM, s3_endpoint_url=aws.endpoint_url
    )
    with SimulatorServer(config) as simulator:
        dynamodb = aws.session().client("dynamodb", endpoint_url=aws.endpoint_url)
        create_table(dynamodb, TABLE)
        forget_breakers(dynamodb)
        server = start_relay(
            simulator,
            aws,
            retry_attempts=1,
            batch_bucket=BUCKET,
            batch_role_arn="arn:aws:iam::123456789012:role/relay-batch",
            batch_min_records=MINIMUM,
            batch_s3_endpoint_url=aws.endpoint_url,
        )
        try:
            yield Gateway(server.url, simulator, DynamoStore(dynamodb, TABLE))
        finally:
            server.stop()


@pytest.fixture
def s3(aws: LocalAws) -> Any:
    return aws.session().client("s3", endpoint_url=aws.endpoint_url)


def requests(
    count: int, marked: dict[int, str] | None = None, max_tokens: int = 32
) -> list[Request]:
    marked = marked or {}
    return [
        {
            "custom_id": f"req-{n}",
            "params": {
                "model": MODEL,
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": f"item {n} {marked.get(n, '')}"}],
            },
        }
        for n in range(count)
    ]


def ended(client: anthropic.Anthropic, batch_id: str) -> MessageBatch:
    deadline = time.monotonic() + 15
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended" or time.monotonic() > deadline:
            return batch
        time.sleep(0.1)


def new_key(gateway: Gateway, **limits: Any) -> tuple[anthropic.Anthropic, str]:
    secret, key = gateway.store.create_key("batch-test", **limits)
    return gateway.client_for(secret), key.key_id


def test_a_batch_below_the_minimum_runs_on_demand_at_on_demand_prices(gateway) -> None:
    client, key_id = new_key(gateway)
    gateway.simulator.state.reset()
    batch = client.messages.batches.create(requests=requests(3))
    # Ended at once: its requests ran through the normal path, no Bedrock job.
    assert batch.processing_status == "ended"
    assert batch.request_counts.succeeded == 3
    assert batch.results_url == f"/v1/messages/batches/{batch.id}/results"
    assert batch.model_extra is not None
    assert batch.model_extra["relay_on_demand"]["models"] == [MODEL]
    assert gateway.simulator.state.batches.jobs() == []
    assert gateway.simulator.state.stats.snapshot()["total"] == 3
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert set(results) == {"req-0", "req-1", "req-2"}
    assert all(r.type == "succeeded" for r in results.values())
    records = gateway.usage_records(key_id, 3)
    assert {r.request_id for r in records} == {f"{batch.id}_{n:06d}" for n in range(3)}
    for record in records:
        assert not record.backend.endswith("/batch")
        usage = {"input_tokens": record.input_tokens, "output_tokens": record.output_tokens}
        assert record.cost_usd == cost_usd(DEFAULT_MODEL, usage, premium=False)


def test_a_bedrock_batch_with_a_failing_record_ends_with_it_errored_at_batch_prices(
    gateway,
) -> None:
    client, key_id = new_key(gateway)
    batch = client.messages.batches.create(requests=requests(MINIMUM, {7: FAIL_RECORD}))
    assert batch.processing_status == "in_progress"
    assert batch.id.startswith("msgbatch_")
    assert batch.request_counts.processing == MINIMUM
    assert batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600

    done = ended(client, batch.id)
    assert done.processing_status == "ended"
    assert done.ended_at is not None
    counts = done.request_counts
    assert (counts.succeeded, counts.errored, counts.processing) == (MINIMUM - 1, 1, 0)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert len(results) == MINIMUM
    failed = results["req-7"]
    assert failed.type == "errored"
    assert failed.error.error.type == "invalid_request_error"
    succeeded = results["req-0"]
    assert succeeded.type == "succeeded"
    assert succeeded.message.model == DEFAULT_MODEL.anthropic_id

    records = gateway.usage_records(key_id, MINIMUM)
    assert len(records) == MINIMUM
    assert {r.backend for r in records} == {"bedrock/us-east-1/batch"}
    for record in records:
        usage = {"input_tokens": record.input_tokens, "output_tokens": record.output_tokens}
        assert record.cost_usd == cost_usd(DEFAULT_MODEL, usage, False) * BATCH_PRICE_FACTOR
    # Reading it again settles nothing twice.
    client.messages.batches.retrieve(batch.id)
    assert len(gateway.store.usage(key_id)) == MINIMUM


def test_a_request_with_tools_runs_on_demand_beside_the_bedrock_job(gateway) -> None:
    client, key_id = new_key(gateway)
    gateway.simulator.state.reset()
    batch_requests = requests(MINIMUM + 1)
    weather = {"name": "weather", "input_schema": {"type": "object", "properties": {}}}
    batch_requests[0]["params"] = {**batch_requests[0]["params"], "tools": [weather]}
    batch = client.messages.batches.create(requests=batch_requests)
    assert batch.processing_status == "in_progress"
    assert batch.model_extra is not None
    assert batch.model_extra["relay_on_demand"]["models"] == [MODEL]
    (job,) = gateway.simulator.state.batches.jobs()
    assert gateway.simulator.state.stats.snapshot()["total"] == 1
    done = ended(client, batch.id)
    assert done.request_counts.succeeded == MINIMUM + 1
    records = gateway.usage_records(key_id, MINIMUM + 1)
    batched = [r for r in records if r.backend.endswith("/batch")]
    assert len(batched) == MINIMUM
    assert job.status == "Completed"


def test_a_failed_job_ends_the_batch_with_every_request_errored(gateway) -> None:
    client, _ = new_key(gateway)
    batch = client.messages.batches.create(requests=requests(MINIMUM, {0: FAIL_JOB}))
    done = ended(client, batch.id)
    assert done.request_counts.errored == MINIMUM
    results = list(client.messages.batches.results(batch.id))
    assert {r.result.type for r in results} == {"errored"}


def test_a_cancelled_batch_ends_with_its_requests_canceled(gateway) -> None:
    client, _ = new_key(gateway)
    batch = client.messages.batches.create(requests=requests(MINIMUM))
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    done = ended(client, batch.id)
    assert done.request_counts.canceled == MINIMUM
    assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}


def test_another_keys_batch_is_not_found_for_every_call(gateway) -> None:
    owner, _ = new_key(gateway)
    other, _ = new_key(gateway)
    batch = owner.messages.batches.create(requests=requests(2))
    calls = (
        other.messages.batches.retrieve,
        other.messages.batches.cancel,
        other.messages.batches.delete,
    )
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call(batch.id)
    with pytest.raises(anthropic.NotFoundError):
        list(other.messages.batches.results(batch.id))
    assert [b.id for b in other.messages.batches.list()] == []
    # The owner's batch is untouched.
    assert owner.messages.batches.retrieve(batch.id).processing_status == "ended"


def test_a_budget_the_batch_would_exceed_refuses_it_and_submits_nothing(gateway, s3) -> None:
    client, key_id = new_key(gateway, daily_usd=Decimal("0.40"))
    gateway.simulator.state.reset()
    # Each request may cost up to $0.0025 at batch prices: about $0.25 for the batch.
    costly = requests(MINIMUM, max_tokens=1000)
    with pytest.raises(anthropic.RateLimitError, match="cannot cover this batch"):
        client.messages.batches.create(requests=requests(2 * MINIMUM, max_tokens=1000))
    first = client.messages.batches.create(requests=costly)
    today = f"day#{datetime.now(UTC):%Y-%m-%d}"
    reserved = gateway.store.spent(key_id, today)
    assert Decimal("0.2") < reserved < Decimal("0.3")
    # What is left ($0.15) cannot cover another: refused before anything is written or run.
    with pytest.raises(anthropic.RateLimitError, match="too little left for this batch"):
        client.messages.batches.create(requests=costly)
    assert [j.name for j in gateway.simulator.state.batches.jobs()] == [
        f"relay-{first.id.removeprefix('msgbatch_')}-0"
    ]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"batches/{key_id}/", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == [f"batches/{key_id}/{first.id}/"]
    assert gateway.store.spent(key_id, today) == reserved
    # Once the first has ended, the budget holds what it cost, at batch prices.
    ended(client, first.id)
    spent = gateway.store.spent(key_id, today)
    assert spent == sum(r.cost_usd for r in gateway.store.usage(key_id)) < reserved


def test_a_job_bedrock_refuses_leaves_nothing_behind_and_gives_the_reservation_back(
    gateway, s3
) -> None:
    client, key_id = new_key(gateway, daily_usd=Decimal("1"))
    gateway.simulator.state.faults.inject(["quota"])
    with pytest.raises(anthropic.RateLimitError, match="ServiceQuotaExceededException"):
        client.messages.batches.create(requests=requests(MINIMUM))
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"batches/{key_id}/")
    assert listed["KeyCount"] == 0
    assert gateway.store.spent(key_id, f"day#{datetime.now(UTC):%Y-%m-%d}") == 0
    assert list(client.messages.batches.list()) == []


def test_one_bad_request_refuses_the_batch_naming_its_custom_id(gateway) -> None:
    client, key_id = new_key(gateway)
    bad = requests(3)
    bad[1]["params"] = {**bad[1]["params"], "max_tokens": 10**9}
    with pytest.raises(anthropic.BadRequestError, match="custom_id 'req-1'"):
        client.messages.batches.create(requests=bad)
    assert list(client.messages.batches.list()) == []
    assert gateway.store.usage(key_id) == []


def test_list_pages_newest_first(gateway) -> None:
    client, _ = new_key(gateway)
    made = [client.messages.batches.create(requests=requests(1)).id for _ in range(3)]
    first = client.messages.batches.list(limit=2)
    assert [b.id for b in first.data] == [made[2], made[1]]
    assert first.has_more is True
    assert [b.id for b in client.messages.batches.list()] == made[::-1]
    older = client.messages.batches.list(limit=2, after_id=made[1])
    assert [b.id for b in older.data] == [made[0]]
    assert older.has_more is False


def test_an_ended_batch_can_be_deleted_and_one_in_progress_cannot(gateway) -> None:
    client, _ = new_key(gateway)
    running = client.messages.batches.create(requests=requests(MINIMUM))
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        client.messages.batches.delete(running.id)
    done = client.messages.batches.create(requests=requests(1))
    deleted = client.messages.batches.delete(done.id)
    assert (deleted.id, deleted.type) == (done.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(done.id)
    ended(client, running.id)


def test_a_relay_without_a_batch_bucket_answers_not_found_in_anthropics_shape(relay) -> None:
    with pytest.raises(anthropic.NotFoundError, match="Message Batches are not enabled"):
        relay.client().messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.NotFoundError):
        relay.client().messages.batches.list()
