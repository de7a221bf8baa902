"""The blocking steps of the batch calls: S3 and the Bedrock control plane, and the settlement
of a Bedrock part's records in the ledger once the relay first sees its job ended.

Settlement is idempotent: each record's usage record has a fixed id (batch id and position)
and time (the job's end), so a second reader of the same ended job, or a retry after a crash
half-way, writes nothing twice (the ledger's conditional put).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

from relay.batches import records
from relay.batches.jobs import BedrockJobs, JobRequest
from relay.batches.planning import Planned
from relay.batches.state import Batch, Counts, Mode, Part, ResultType, now_utc, unanswered_result
from relay.batches.store import BatchStore
from relay.catalog import Catalog, in_batch
from relay.keys import ApiKey
from relay.ledger import Admission, Ledger
from relay.pricing import cost_usd
from relay.usage import UsageRecord, usage_numbers

# Settlements of one ended part in flight at once (each a DynamoDB transaction).
_SETTLE_THREADS = 16


def record_request_id(batch_id: str, index: int) -> str:
    """The usage record id of a batch's request: fixed, so settlement is idempotent."""
    return f"{batch_id}_{index:06d}"


def part_admission(key: ApiKey, batch: Batch, part: Part, first: bool) -> Admission:
    """The admission a record settles against: the part's first record releases the part's
    whole reservation, the others add their own cost."""
    reserved = part.reserved_usd if first else Decimal(0)
    return Admission(key, reserved, batch.minute)


class BatchJobs:
    """A batch's Bedrock side: its input and jobs, their outcome, and its results."""

    def __init__(self, store: BatchStore, jobs: BedrockJobs, ledger: Ledger, catalog: Catalog):
        self.store = store
        self._jobs = jobs
        self._ledger = ledger
        self._catalog = catalog

    def submit(self, batch: Batch, planned: list[Planned]) -> None:
        """Write each Bedrock part's input and start its job; on a failure, stop the jobs
        already started and raise."""
        prefix = self.store.prefix(batch.key_id, batch.id)
        started: list[str] = []
        try:
            for number, part in enumerate(batch.parts):
                if part.mode is not Mode.BEDROCK:
                    continue
                input_key = f"{prefix}input/{number}.jsonl"
                lines = [records.input_line(i, planned[i].plan.body) for i in part.indexes]
                self.store.put_lines(input_key, lines)
                part.job_arn = self._jobs.create(
                    JobRequest(
                        name=f"relay-{batch.id.removeprefix('msgbatch_')}-{number}",
                        token=f"{batch.id.replace('_', '-')}-{number}",
                        model_id=part.model_id,
                        input_uri=self.store.uri(input_key),
                        output_uri=self.store.uri(f"{prefix}output/{number}/"),
                    )
                )
                started.append(part.job_arn)
        except BaseException:
            for arn in started:
                self._jobs.stop(arn)
            raise

    def refresh(self, batch: Batch, key: ApiKey) -> bool:
        """Read the jobs of parts still running; settle and write the results of those that
        ended. True when anything changed (the batch must be saved)."""
        changed = False
        for number, part in enumerate(batch.parts):
            if part.counts is not None or part.job_arn is None:
                continue
            job = self._jobs.get(part.job_arn)
            kind = unanswered_result(job.status)
            if kind is None:
                continue
            ended_at = job.end_time or now_utc()
            self._finish(batch, number, part, key, kind, job.message, ended_at)
            changed = True
        return changed

    def _finish(
        self,
        batch: Batch,
        number: int,
        part: Part,
        key: ApiKey,
        kind: ResultType,
        job_message: str | None,
        ended_at: datetime,
    ) -> None:
        prefix = self.store.prefix(batch.key_id, batch.id)
        output = self.store.find(f"{prefix}output/{number}/", f"{number}.jsonl.out")
        answered: dict[int, dict[str, Any]] = {}
        for line in self.store.read_lines(output) if output else ():
            index = records.index_of(str(line.get("recordId", "")))
            if index is not None:
                answered[index] = line
        model = self._catalog.by_alias(part.model)
        priced = in_batch(model)
        counts = Counts()
        lines = []
        settlements: list[tuple[Admission, UsageRecord]] = []
        for position, index in enumerate(part.indexes):
            answer = answered.get(index)
            usage: dict[str, Any] = {}
            if answer is None:
                result = records.unanswered(kind, job_message)
            else:
                result, usage = records.output_result(answer, model.anthropic_id)
            counts.add(result["type"])
            lines.append(records.result_line(batch.custom_ids[index], result))
            numbers = usage_numbers(usage)
            record = UsageRecord(
                request_id=record_request_id(batch.id, index),
                key_id=batch.key_id,
                model=model.anthropic_id,
                backend=f"{part.backend}/batch",
                model_id=part.model_id,
                status="ok" if result["type"] == "succeeded" else result["type"],
                cost_usd=cost_usd(priced, usage, part.premium),
                at=ended_at,
                input_tokens=numbers["input_tokens"],
                output_tokens=numbers["output_tokens"],
                cache_read_tokens=numbers["cache_read_tokens"],
                cache_write_tokens=numbers["cache_write_tokens"],
            )
            settlements.append((part_admission(key, batch, part, position == 0), record))
        # One conditional transaction per record: in parallel, a large batch settles in about
        # a minute per 100,000 records rather than half an hour.
        with ThreadPoolExecutor(_SETTLE_THREADS, thread_name_prefix="batch-settle") as pool:
            list(pool.map(lambda pair: self._ledger.settle(*pair), settlements))
        self.store.put_lines(f"{prefix}results/{number}.jsonl", lines)
        part.counts, part.ended_at = counts, ended_at

    def cancel(self, batch: Batch) -> None:
        for part in batch.parts:
            if part.counts is None and part.job_arn is not None:
                self._jobs.stop(part.job_arn)
