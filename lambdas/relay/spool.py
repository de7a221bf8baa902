"""Usage records that could not be settled (the table was down): retried, then kept in a durable
spool and replayed later, so every request that reached a provider keeps its one record.

A spool is a JSON-lines file (local runs, one host) or an SQS queue (Lambda, whose disk does not
outlive the instance), named by RELAY_USAGE_SPOOL. `replay` settles what a spool holds; run it
with `relaykit usage-replay` or schedule `replay_handler` as a Lambda function. Settlement is
idempotent (the usage record is written only if absent, in the same transaction as the budget
counters), so a record replayed twice is counted once. Until a spooled record is replayed its
reservation stays counted against the day's and month's budgets, which end by themselves.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from relay.keys import ApiKey
from relay.ledger import Admission, Ledger
from relay.log import logger
from relay.usage import UsageRecord

if TYPE_CHECKING:
    import boto3

Settle = Callable[[Admission, UsageRecord], None]

# Settlement attempts before spooling, and the pauses between them: short, since a plain reply
# waits for its settlement.
SETTLE_PAUSES = (0.05, 0.25)


def dumps(admission: Admission, record: UsageRecord) -> str:
    """An unsettled record with what settling needs of its admission (never content)."""
    key = admission.key
    return json.dumps(
        {
            "key": {
                "key_id": key.key_id,
                "owner": key.owner,
                "tpm": key.tpm,
                "daily_usd": _text(key.daily_usd),
                "monthly_usd": _text(key.monthly_usd),
            },
            "reserved_usd": str(admission.reserved_usd),
            "minute": admission.minute,
            "record": {
                **asdict(record),
                "cost_usd": str(record.cost_usd),
                "at": record.at.isoformat(),
            },
        },
        separators=(",", ":"),
    )


def loads(line: str) -> tuple[Admission, UsageRecord]:
    data = json.loads(line)
    key = data["key"]
    api_key = ApiKey(
        key_id=key["key_id"],
        owner=key["owner"],
        tpm=key["tpm"],
        daily_usd=_decimal(key["daily_usd"]),
        monthly_usd=_decimal(key["monthly_usd"]),
    )
    fields = data["record"]
    record = UsageRecord(
        **{
            **fields,
            "cost_usd": Decimal(fields["cost_usd"]),
            "at": datetime.fromisoformat(fields["at"]),
        }
    )
    return Admission(api_key, Decimal(data["reserved_usd"]), data["minute"]), record


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class UsageSpool(Protocol):
    def keep(self, entry: str) -> None:
        """Store one entry durably before returning."""
        ...

    def replay(self, settle: Callable[[str], None]) -> tuple[int, int]:
        """Hand every entry to `settle`; drop those it took. Returns (settled, left)."""
        ...


class FileSpool:
    """JSON lines in a file, each written and fsynced before the request's record is let go."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def keep(self, entry: str) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as spool:
            spool.write(entry + "\n")
            spool.flush()
            os.fsync(spool.fileno())

    def replay(self, settle: Callable[[str], None]) -> tuple[int, int]:
        # Taken aside first: records spooled meanwhile go to a new file, not lost in a rewrite.
        taken = self.path.with_name(f"{self.path.name}.replaying")
        with self._lock:
            if self.path.exists() and taken.exists():
                _append(self.path, taken)  # a replay that stopped midway left its part
            elif self.path.exists():
                self.path.replace(taken)
        if not taken.exists():
            return 0, 0
        settled, left = 0, []
        for line in taken.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                settle(line)
                settled += 1
            except Exception:
                left.append(line)
        for line in left:
            self.keep(line)
        taken.unlink()
        return settled, len(left)


def _append(source: Path, target: Path) -> None:
    with target.open("a", encoding="utf-8") as out:
        out.write(source.read_text(encoding="utf-8"))
    source.unlink()


class QueueSpool:
    """An SQS queue: durable beyond the Lambda instance that spooled, replayed by a schedule."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def keep(self, entry: str) -> None:
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=entry)

    def replay(self, settle: Callable[[str], None]) -> tuple[int, int]:
        settled = left = 0
        while True:
            messages = self._client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return settled, left
            for message in messages:
                try:
                    settle(message["Body"])
                except Exception:
                    left += 1  # back on the queue when its visibility timeout ends
                    continue
                self._client.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                settled += 1
            if left:
                return settled, left


def open_spool(where: str, session: boto3.session.Session | None = None) -> UsageSpool:
    """A spool from RELAY_USAGE_SPOOL: an SQS queue URL, or a file path."""
    if where.startswith(("https://sqs.", "http://")):
        import boto3

        region = where.split(".")[1] if where.startswith("https://sqs.") else None
        client = (session or boto3.session.Session()).client(
            "sqs", region_name=region, endpoint_url=_endpoint(where)
        )
        return QueueSpool(client, where)
    return FileSpool(Path(where))


def _endpoint(queue_url: str) -> str | None:
    # Only a local queue (moto, tests) needs its endpoint named; AWS's is derived from the region.
    if queue_url.startswith("http://"):
        scheme, _, rest = queue_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return None


class SpooledLedger:
    """A ledger whose settlements survive the table being down: retried, then spooled (without
    a spool, the last failure is raised and logged by the meter)."""

    blocking = True

    def __init__(
        self,
        ledger: Ledger,
        spool: UsageSpool | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ledger = ledger
        self._spool = spool
        self._sleep = sleep

    def admit(
        self,
        key: ApiKey,
        estimate_usd: Decimal,
        downgrades: Sequence[Decimal] = (),
        *,
        whole: bool = False,
    ) -> Admission:
        return self._ledger.admit(key, estimate_usd, downgrades, whole=whole)

    def settle(self, admission: Admission, record: UsageRecord) -> None:
        for pause in (*SETTLE_PAUSES, None):
            try:
                self._ledger.settle(admission, record)
                return
            except Exception:
                if pause is None and self._spool is None:
                    raise
                if pause is None:
                    break
                self._sleep(pause)
        assert self._spool is not None
        self._spool.keep(dumps(admission, record))
        logger.warning(
            "usage record spooled: the table did not take it",
            extra={"request_id": record.request_id, "key_id": record.key_id},
        )


def replay(spool: UsageSpool, settle: Settle) -> tuple[int, int]:
    """Settle what `spool` holds; (settled, left in the spool)."""

    def one(entry: str) -> None:
        settle(*loads(entry))

    return spool.replay(one)


def replay_handler(event: Mapping[str, Any], context: object) -> dict[str, int]:
    """A Lambda entry point the stack can schedule: replays RELAY_USAGE_SPOOL into the table."""
    from relay.dynamo import DynamoStore

    env = os.environ
    store = DynamoStore.connect(env["RELAY_TABLE_NAME"], env.get("AWS_REGION"))
    settled, left = replay(open_spool(env["RELAY_USAGE_SPOOL"]), store.settle)
    logger.info("usage spool replayed", extra={"settled": settled, "left": left})
    return {"settled": settled, "left": left}
