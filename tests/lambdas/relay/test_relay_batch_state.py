"""The batch core without I/O: Bedrock job statuses read as Anthropic's, the batch object, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from anthropic.types.messages import MessageBatch

from relay.batches.records import index_of, output_result, record_id
from relay.batches.state import Batch, Counts, Mode, Part, new_batch_id, unanswered_result
from relay.settings import ConfigError, Settings

CREATED = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "status", ["Submitted", "Validating", "Scheduled", "InProgress", "Stopping"]
)
def test_a_job_not_yet_ended_leaves_its_records_processing(status: str) -> None:
    assert unanswered_result(status) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("Completed", "errored"),
        ("PartiallyCompleted", "expired"),
        ("Failed", "errored"),
        ("Stopped", "canceled"),
        ("Expired", "expired"),
    ],
)
def test_an_ended_job_settles_what_it_did_not_answer(status: str, kind: str) -> None:
    assert unanswered_result(status) == kind


def _batch(*counts: Counts | None) -> Batch:
    parts = [
        Part(
            model="claude-haiku-4-5",
            mode=Mode.BEDROCK,
            indexes=[n],
            backend="bedrock/us-east-1",
            model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0",
            premium=False,
            counts=c,
            ended_at=CREATED + timedelta(hours=n + 1) if c else None,
        )
        for n, c in enumerate(counts)
    ]
    return Batch(
        id=new_batch_id(CREATED),
        key_id="rk_0",
        created_at=CREATED,
        custom_ids=[f"r{n}" for n in range(len(parts))],
        parts=parts,
    )


def test_a_batch_counts_processing_until_every_part_has_ended() -> None:
    running = _batch(Counts(succeeded=1), None)
    shown = MessageBatch.model_validate(running.view("http://relay/results"))
    assert shown.processing_status == "in_progress"
    assert shown.request_counts.processing == 2
    assert shown.request_counts.succeeded == 0
    assert shown.ended_at is None
    assert shown.results_url is None
    assert shown.expires_at == CREATED + timedelta(hours=24)


def test_an_ended_batch_sums_its_parts_and_ends_with_its_last() -> None:
    done = _batch(Counts(succeeded=1), Counts(errored=1))
    shown = MessageBatch.model_validate(done.view("http://relay/results"))
    assert shown.processing_status == "ended"
    counts = shown.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 1, 1)
    assert shown.ended_at == CREATED + timedelta(hours=2)
    assert shown.results_url == "http://relay/results"


def test_a_cancel_shows_canceling_until_the_batch_ends() -> None:
    batch = _batch(None)
    batch.cancel_initiated_at = CREATED
    assert batch.processing_status == "canceling"


def test_a_batch_is_kept_29_days() -> None:
    batch = _batch(Counts(succeeded=1))
    assert batch.retained(CREATED + timedelta(days=28, hours=23))
    assert not batch.retained(CREATED + timedelta(days=29))


def test_ids_sort_newest_first() -> None:
    older, newer = new_batch_id(CREATED), new_batch_id(CREATED + timedelta(milliseconds=1))
    assert newer < older
    assert older.startswith("msgbatch_")


def test_record_ids_are_eleven_alphanumerics_that_give_the_position_back() -> None:
    assert record_id(42) == "R0000000042"
    assert index_of(record_id(42)) == 42
    assert index_of("something else") is None


def test_a_bedrock_error_line_is_an_errored_result_of_its_kind() -> None:
    result, usage = output_result(
        {"recordId": "R0000000001", "error": {"errorCode": 429, "errorMessage": "slow down"}},
        "claude-haiku-4-5-20251001",
    )
    assert result == {
        "type": "errored",
        "error": {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    }
    assert usage == {}


def test_the_batch_settings_are_read_together() -> None:
    env = {
        "RELAY_BEDROCK_REGION": "us-east-1",
        "RELAY_API_KEYS": "sk-relay-test",
        "RELAY_BATCH_BUCKET": "relay-batches",
    }
    with pytest.raises(ConfigError, match="RELAY_BATCH_ROLE_ARN"):
        Settings.from_env(env)
    role = "arn:aws:iam::123456789012:role/relay-batch"
    settings = Settings.from_env(
        {**env, "RELAY_BATCH_ROLE_ARN": role, "RELAY_BATCH_MIN_RECORDS": "500"}
    )
    assert (settings.batch_bucket, settings.batch_role_arn) == ("relay-batches", role)
    assert settings.batch_min_records == 500
