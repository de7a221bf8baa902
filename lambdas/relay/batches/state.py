"""A message batch as the relay keeps it, and as Anthropic's API shows it. No I/O.

A batch is split into parts, one per model: Bedrock runs a batch inference job per model, and a
part with fewer requests than Bedrock's minimum records per job runs on demand instead. The
batch has ended when every part has; its `request_counts` count `processing` until then, as
Anthropic's do (the other tallies are zero until processing of the whole batch ends).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

# Anthropic: a batch expires (ends processing) 24 hours after it is created; its results stay
# available for 29 days after creation. Bedrock's shortest job timeout is the same 24 hours.
EXPIRY = timedelta(hours=24)
RETENTION = timedelta(days=29)
# Anthropic's limits per batch: 100,000 requests or 256 MB, whichever comes first.
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
# Ids sort newest first (S3 lists keys in ascending order): milliseconds until this moment
# (year 2286), then randomness.
_ID_EPOCH_END_MS = 10**13

ResultType = Literal["succeeded", "errored", "canceled", "expired"]


class Mode(StrEnum):
    BEDROCK = "bedrock"
    # Fewer requests than Bedrock's minimum records per job: run on demand, at on-demand price.
    ON_DEMAND = "on_demand"


# Bedrock's job statuses (GetModelInvocationJob `status`) after which nothing more runs, and
# what a record the job's output does not answer became.
_ENDED: dict[str, ResultType] = {
    "Completed": "errored",
    "PartiallyCompleted": "expired",
    "Failed": "errored",
    "Stopped": "canceled",
    "Expired": "expired",
}


def unanswered_result(status: str) -> ResultType | None:
    """What a record without output is once its job is in `status`; None while it runs
    (Submitted, Validating, Scheduled, InProgress, Stopping)."""
    return _ENDED.get(status)


class Counts(BaseModel):
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    def add(self, kind: ResultType) -> None:
        setattr(self, kind, getattr(self, kind) + 1)


class Part(BaseModel):
    """The requests of one model: a Bedrock job, or requests run on demand."""

    model: str
    mode: Mode
    # Positions of the part's requests in the batch (their custom_ids are the batch's).
    indexes: list[int]
    backend: str
    model_id: str
    premium: bool
    reserved_usd: Decimal = Decimal(0)
    job_arn: str | None = None
    # Set once the part has ended (and its records have been settled).
    ended_at: datetime | None = None
    counts: Counts | None = None


class Batch(BaseModel):
    id: str
    key_id: str
    created_at: datetime
    custom_ids: list[str]
    parts: list[Part]
    # The minute of admission: settlement goes to the budget periods the reservation went to.
    minute: int = 0
    cancel_initiated_at: datetime | None = None
    # Said in the batch's JSON when any part ran on demand (at on-demand prices).
    on_demand: list[str] = Field(default_factory=list)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + EXPIRY

    def retained(self, now: datetime) -> bool:
        """Whether the batch is still kept (Anthropic: results for 29 days after creation);
        past that, it is not found, and the bucket's lifecycle rule deletes it."""
        return now < self.created_at + RETENTION

    @property
    def ended(self) -> bool:
        return all(part.counts is not None for part in self.parts)

    @property
    def ended_at(self) -> datetime | None:
        if not self.ended:
            return None
        return max((p.ended_at for p in self.parts if p.ended_at), default=self.created_at)

    @property
    def processing_status(self) -> str:
        if self.ended:
            return "ended"
        return "canceling" if self.cancel_initiated_at else "in_progress"

    def request_counts(self) -> dict[str, int]:
        if not self.ended:
            return {"processing": len(self.custom_ids), **Counts().model_dump()}
        total = Counts()
        for part in self.parts:
            assert part.counts is not None
            for kind, n in part.counts.model_dump().items():
                setattr(total, kind, getattr(total, kind) + n)
        return {"processing": 0, **total.model_dump()}

    def view(self, results_url: str) -> dict[str, Any]:
        """The batch as Anthropic's API shows it (the SDK's `MessageBatch`)."""
        shown: dict[str, Any] = {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": self.request_counts(),
            "ended_at": _time(self.ended_at),
            "created_at": _time(self.created_at),
            "expires_at": _time(self.expires_at),
            "archived_at": None,
            "cancel_initiated_at": _time(self.cancel_initiated_at),
            "results_url": results_url if self.ended else None,
        }
        if self.on_demand:
            # Not in Anthropic's object: which models' requests ran on demand, and why.
            shown["relay_on_demand"] = {
                "models": self.on_demand,
                "reason": "fewer requests than Bedrock's minimum records per batch job, or "
                "requests with tools or structured output (which Bedrock batch inference does "
                "not run): run on demand, at on-demand prices",
            }
        return shown


def new_batch_id(now: datetime) -> str:
    millis = int(now.timestamp() * 1000)
    return f"msgbatch_{_ID_EPOCH_END_MS - millis:013d}{secrets.token_hex(8)}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
