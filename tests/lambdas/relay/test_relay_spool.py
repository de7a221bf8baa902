"""Usage records survive a table that does not take them: retried, spooled, replayed, once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from relay.dynamo import DynamoStore
from relay.errors import ApiError
from relay.spool import (
    FileSpool,
    QueueSpool,
    SpooledLedger,
    dumps,
    loads,
    open_spool,
    replay,
    replay_handler,
)
from relay.usage import UsageRecord
from relaykit.local_aws import LocalAws
from relaykit.table import create_table

AT = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)
DAY = "day#2026-11-26"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


@pytest.fixture
def store(aws: LocalAws, request: pytest.FixtureRequest) -> DynamoStore:
    client = aws.session().client("dynamodb", endpoint_url=aws.endpoint_url)
    table = f"spool-{request.node.name[:40]}"
    create_table(client, table)
    return DynamoStore(client, table, clock=lambda: AT.timestamp())


def unreachable(store: DynamoStore, aws: LocalAws) -> DynamoStore:
    """The same table through an endpoint where nothing listens: the table is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = aws.session().client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    return DynamoStore(client, store._table, clock=lambda: AT.timestamp())


def record(key_id: str, request_id: str, cost: str, at: datetime = AT) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        key_id=key_id,
        model="claude-haiku-4-5-20251001",
        backend="bedrock/us-east-1",
        model_id="global.x",
        status="ok",
        input_tokens=12,
        output_tokens=30,
        cost_usd=Decimal(cost),
        ttft_ms=12.5,
        stream=True,
        at=at,
    )


def test_an_entry_keeps_what_settling_needs() -> None:
    from relay.keys import ApiKey
    from relay.ledger import Admission

    key = ApiKey("rk_1", "team", tpm=100, daily_usd=Decimal("2.5"), models=frozenset({"m"}))
    admission = Admission(key, Decimal("0.3"), 123, {"h": "v"})
    again, rebuilt = loads(dumps(admission, record("rk_1", "req_1", "0.01")))
    assert rebuilt == record("rk_1", "req_1", "0.01")
    assert (again.key.tpm, again.key.daily_usd, again.key.monthly_usd) == (
        100,
        Decimal("2.5"),
        None,
    )
    assert (again.reserved_usd, again.minute) == (Decimal("0.3"), 123)


def test_a_record_the_table_refuses_is_spooled_and_replayed_once(
    store: DynamoStore, aws: LocalAws, tmp_path: Path
) -> None:
    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.30"))
    assert store.spent(key.key_id, DAY) == Decimal("0.30")
    spool = FileSpool(tmp_path / "usage.jsonl")
    pauses: list[float] = []
    down = SpooledLedger(unreachable(store, aws), spool, sleep=pauses.append)
    down.settle(admission, record(key.key_id, "req_1", "0.05"))
    assert len(pauses) == 2  # retried before spooling
    assert store.usage(key.key_id) == []

    assert replay(spool, store.settle) == (1, 0)
    (settled,) = store.usage(key.key_id)
    assert settled.request_id == "req_1"
    # The reservation is released: the budget counts the real cost.
    assert store.spent(key.key_id, DAY) == Decimal("0.05")
    # Replaying again (a copy left by a crash) counts nothing twice.
    spool.keep(dumps(admission, record(key.key_id, "req_1", "0.05")))
    assert replay(spool, store.settle) == (1, 0)
    assert len(store.usage(key.key_id)) == 1
    assert store.spent(key.key_id, DAY) == Decimal("0.05")


def test_a_replay_while_the_table_is_still_down_keeps_the_records(
    store: DynamoStore, aws: LocalAws, tmp_path: Path
) -> None:
    _, key = store.create_key("team-a")
    spool = FileSpool(tmp_path / "usage.jsonl")
    down = unreachable(store, aws)
    SpooledLedger(down, spool, sleep=lambda _: None).settle(
        store.admit(key, Decimal(0)), record(key.key_id, "req_1", "0.01")
    )
    assert replay(spool, down.settle) == (0, 1)
    assert replay(spool, store.settle) == (1, 0)
    assert [r.request_id for r in store.usage(key.key_id)] == ["req_1"]


def test_without_a_spool_the_last_failure_is_raised(store: DynamoStore, aws: LocalAws) -> None:
    _, key = store.create_key("team-a")
    down = SpooledLedger(unreachable(store, aws), None, sleep=lambda _: None)
    with pytest.raises(EndpointConnectionError):
        down.settle(store.admit(key, Decimal(0)), record(key.key_id, "req_1", "0.01"))


def test_an_sqs_queue_spools_for_lambda(store: DynamoStore, aws: LocalAws) -> None:
    sqs = aws.session().client("sqs", endpoint_url=aws.endpoint_url)
    url = sqs.create_queue(QueueName="relay-usage-spool")["QueueUrl"]
    spool = open_spool(url, aws.session())
    assert isinstance(spool, QueueSpool)
    _, key = store.create_key("team-a")
    down = SpooledLedger(unreachable(store, aws), spool, sleep=lambda _: None)
    for n in range(12):
        down.settle(store.admit(key, Decimal(0)), record(key.key_id, f"req_{n}", "0.01"))
    assert replay(spool, store.settle) == (12, 0)
    assert len(store.usage(key.key_id)) == 12
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_a_table_that_is_down_refuses_admission_in_the_apis_shape(
    store: DynamoStore, aws: LocalAws
) -> None:
    _, key = store.create_key("team-a", rpm=10)
    with pytest.raises(ApiError) as raised:
        unreachable(store, aws).admit(key, Decimal(0))
    assert raised.value.status == 500
    assert "cannot check this key's limits" in raised.value.message


def test_shared_breakers_are_advice_when_the_table_is_down(
    store: DynamoStore, aws: LocalAws
) -> None:
    down = unreachable(store, aws)
    down.trip("bedrock/us-east-1/x", 30)  # does not raise: this instance still knows
    assert down.is_open("bedrock/us-east-1/x")
    assert not down.is_open("bedrock/us-west-2/x")


def test_without_a_spool_the_failed_settlement_logs_a_replayable_entry(
    store: DynamoStore, aws: LocalAws, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from starlette.requests import Request

    from relay.catalog import DEFAULT_MODEL
    from relay.core import Plan, Route
    from relay.meter import Meter

    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.2"))
    request = Request(
        {"type": "http", "headers": [], "state": {"request_id": "req_9", "facts": {}}}
    )
    route = Route("bedrock/us-east-1", None, DEFAULT_MODEL, "global.x", False)  # type: ignore[arg-type]
    plan = Plan((route,), {}, stream=False, warning=None, dropped=())
    down = SpooledLedger(unreachable(store, aws), None, sleep=lambda _: None)
    meter = Meter(request, plan, admission, down, metrics=False)
    with caplog.at_level(logging.ERROR):
        asyncio.run(meter.finish({"input_tokens": 10, "output_tokens": 20}))
    (line,) = [r for r in caplog.records if r.getMessage() == "usage settlement failed"]
    spool = FileSpool(tmp_path / "from-logs.jsonl")
    spool.keep(line.unsettled)  # type: ignore[attr-defined]
    assert replay(spool, store.settle) == (1, 0)
    (settled,) = store.usage(key.key_id)
    assert (settled.request_id, settled.output_tokens) == ("req_9", 20)
    # Settled days later, against the day it reserved (not the day it was replayed).
    assert settled.at.date() > AT.date()
    assert store.spent(key.key_id, DAY) == settled.cost_usd
    assert store.spent(key.key_id, f"day#{settled.at:%Y-%m-%d}") == 0


def test_replay_handler_settles_a_record_from_the_queue_into_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler the schedule invokes, with the environment the stack gives it, against moto's
    SQS and DynamoDB: a record spooled while the table was down reaches the table, once."""
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        dynamodb = session.client("dynamodb")
        create_table(dynamodb, "relay-keys")
        store = DynamoStore(dynamodb, "relay-keys")
        _, key = store.create_key("team-a")
        admission = store.admit(key, Decimal("0.02"))
        queue_url = session.client("sqs").create_queue(QueueName="usage-spool")["QueueUrl"]
        spooled = record(key.key_id, "req_spooled", "0.01", at=datetime.now(UTC))
        session.client("sqs").send_message(
            QueueUrl=queue_url, MessageBody=dumps(admission, spooled)
        )
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("RELAY_TABLE_NAME", "relay-keys")
        monkeypatch.setenv("RELAY_USAGE_SPOOL", queue_url)

        assert replay_handler({}, None) == {"settled": 1, "left": 0}
        assert replay_handler({}, None) == {"settled": 0, "left": 0}

        (settled,) = store.usage(key.key_id)
        assert settled.request_id == spooled.request_id
        assert settled.cost_usd == spooled.cost_usd
        queue = session.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert queue["Attributes"]["ApproximateNumberOfMessages"] == "0"
