"""Keys, limits, budgets, usage records and the response cache in one DynamoDB table.

Layout (partition key `pk`, sort key `sk`, TTL attribute `expires_at`):

    key#<sha256 of the secret>   key               the key: owner, models, limits, flags
    keyid#<key id>               key               pointer from the public id to the digest
    limits#<key id>              minute#<n>        requests and tokens in minute n (epoch/60)
    limits#<key id>              day#<YYYY-MM-DD>  USD spent and reserved that UTC day
    limits#<key id>              month#<YYYY-MM>   USD spent and reserved that UTC month
    usage#<key id>               <iso time>#<id>   one usage record per request
    cache#<sha256 of request>    reply             a cached non-streamed reply
    breaker#<route>              state             until when a route's breaker is open

Every limit is enforced by a conditional write, never read-modify-write, so concurrent Lambda
instances cannot race past it. Budgets reserve a request's upper-bound cost before the call and
settle to the real cost after it: at most one request can cross a budget, by at most its own
worth.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from relay.errors import ApiError, ErrorType
from relay.keys import ApiKey, KeyCache, key_id_of, new_secret
from relay.ledger import Admission, log_usage
from relay.settings import key_digest
from relay.usage import UsageRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# A key looked up is trusted for this long, so a revocation takes effect within it.
KEY_CACHE_SECONDS = 10.0
# An unknown key is remembered for this long only (a key issued just now must work at once).
UNKNOWN_KEY_CACHE_SECONDS = 1.0
# Keys remembered per instance; a Lambda instance serves far fewer distinct keys between
# recycles, and 10,000 entries are a few MB.
KEY_CACHE_ENTRIES = 10_000
# Shared breaker state is read at most this often per route and instance.
BREAKER_CACHE_SECONDS = 2.0
USAGE_RETENTION = timedelta(days=400)


def _n(value: int | Decimal) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _next_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def _next_month(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _rate_limited(message: str, retry_after: float, headers: dict[str, str]) -> ApiError:
    return ApiError(
        ErrorType.RATE_LIMIT,
        message,
        "key_limit",
        {**headers, "retry-after": str(max(1, math.ceil(retry_after)))},
    )


@contextlib.contextmanager
def _unavailable(what: str) -> Iterator[None]:
    """A table that cannot be reached (or refuses for other reasons than a condition) is the
    relay's failure, said so in the API's shape rather than as a traceback; clients retry it."""
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] in _CONDITIONAL:
            raise
        raise ApiError(ErrorType.API, f"The relay cannot {what} right now.", "table") from error
    except BotoCoreError as error:
        raise ApiError(ErrorType.API, f"The relay cannot {what} right now.", "table") from error


_CONDITIONAL = ("ConditionalCheckFailedException", "TransactionCanceledException")


class DynamoStore:
    """The relay's table: a KeyStore, a Ledger and a response cache."""

    blocking = True

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        cache_table: str | None = None,
        clock: Callable[[], float] = time.time,
        key_cache: KeyCache | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._cache_table = cache_table or table
        self._clock = clock
        self._keys = (
            KeyCache(KEY_CACHE_ENTRIES, KEY_CACHE_SECONDS, UNKNOWN_KEY_CACHE_SECONDS, clock=clock)
            if key_cache is None
            else key_cache
        )
        self._breakers: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        table: str,
        region: str | None,
        cache_table: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.session.Session | None = None,
    ) -> DynamoStore:
        client = (session or boto3.session.Session()).client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url
        )
        return cls(client, table, cache_table)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # Keys.

    def find(self, digest: str) -> ApiKey | None:
        cached, key = self._keys.get(digest)
        if cached:
            return key
        with _unavailable("check keys"):
            item = self._client.get_item(
                TableName=self._table, Key={"pk": _s(f"key#{digest}"), "sk": _s("key")}
            ).get("Item")
        key = _key_from_item(item) if item else None
        self._keys.put(digest, key)
        return key

    def create_key(
        self,
        owner: str,
        *,
        models: frozenset[str] = frozenset(),
        rpm: int | None = None,
        tpm: int | None = None,
        daily_usd: Decimal | None = None,
        monthly_usd: Decimal | None = None,
        valid_until: datetime | None = None,
        cache: bool = False,
        cache_group: str | None = None,
        downgrade: tuple[str, ...] = (),
    ) -> tuple[str, ApiKey]:
        """A new key; the secret is returned once and stored only as its digest."""
        secret = new_secret()
        digest = key_digest(secret)
        key = ApiKey(
            key_id=key_id_of(digest),
            owner=owner,
            models=models,
            rpm=rpm,
            tpm=tpm,
            daily_usd=daily_usd,
            monthly_usd=monthly_usd,
            valid_until=valid_until,
            cache=cache,
            cache_group=cache_group,
            downgrade=downgrade,
            created_at=self._now(),
        )
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _key_item(digest, key),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": _s(f"keyid#{key.key_id}"),
                            "sk": _s("key"),
                            "digest": _s(digest),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        return secret, key

    def _digest_of(self, key_id: str) -> str:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(f"keyid#{key_id}"), "sk": _s("key")}
        ).get("Item")
        if not item:
            raise LookupError(f"no key with id {key_id}")
        return item["digest"]["S"]

    def set_disabled(self, key_id: str, disabled: bool = True) -> None:
        digest = self._digest_of(key_id)
        self._client.update_item(
            TableName=self._table,
            Key={"pk": _s(f"key#{digest}"), "sk": _s("key")},
            UpdateExpression="SET disabled = :d",
            ExpressionAttributeValues={":d": {"BOOL": disabled}},
        )
        self._keys.forget(digest)

    def key_by_id(self, key_id: str) -> ApiKey:
        """The key with public id `key_id`, read afresh; LookupError if there is none."""
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": _s(f"key#{self._digest_of(key_id)}"), "sk": _s("key")},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise LookupError(f"no key with id {key_id}")
        return _key_from_item(item)

    def replace_key(self, key: ApiKey) -> None:
        """Store new limits (owner, models, budgets, expiry) for an existing key."""
        digest = self._digest_of(key.key_id)
        self._client.put_item(
            TableName=self._table,
            Item=_key_item(digest, key),
            ConditionExpression="attribute_exists(pk)",
        )
        self._keys.forget(digest)

    def last_used(self, key_id: str) -> datetime | None:
        """When the key's newest usage record was written (usage sorts by time)."""
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"usage#{key_id}")},
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        return datetime.fromisoformat(items[0]["at"]["S"]) if items else None

    def list_keys(self) -> list[ApiKey]:
        keys: list[ApiKey] = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :p) AND sk = :k",
            ExpressionAttributeValues={":p": _s("key#"), ":k": _s("key")},
        ):
            keys.extend(_key_from_item(item) for item in page.get("Items", []))
        return sorted(keys, key=lambda k: (k.owner, k.key_id))

    # Ledger.

    def admit(
        self,
        key: ApiKey,
        estimate_usd: Decimal,
        downgrades: Sequence[Decimal] = (),
        *,
        whole: bool = False,
    ) -> Admission:
        clock = self._clock()
        minute = int(clock // 60)
        reserved, choice = Decimal(0), 0
        with _unavailable("check this key's limits"):
            headers = self._count_request(key, minute, clock) if key.rpm or key.tpm else {}
            if key.budgeted:
                reserved, choice = self._reserve_first(key, (estimate_usd, *downgrades), whole)
        return Admission(key, reserved, minute, headers, choice)

    def _reserve_first(
        self, key: ApiKey, estimates: tuple[Decimal, ...], whole: bool
    ) -> tuple[Decimal, int]:
        """Reserve the first estimate that fits whole in what is left; the last one is
        admitted while anything is left (so one request can cross the budget, by its own
        worth at the cheapest model), unless `whole` (a batch): then it must fit too."""
        limits = [budget for _, budget, _, _ in self._budgets(key, self._now())]
        for choice, estimate in enumerate(estimates[:-1]):
            if estimate > min(limits):
                continue  # cannot fit even in an unspent budget
            try:
                return self._reserve(key, estimate, whole=True), choice
            except ApiError:
                continue
        return self._reserve(key, estimates[-1], whole=whole), len(estimates) - 1

    def _count_request(self, key: ApiKey, minute: int, clock: float) -> dict[str, str]:
        reset = datetime.fromtimestamp((minute + 1) * 60, UTC).isoformat().replace("+00:00", "Z")
        conditions, values = [], {":one": _n(1), ":exp": _n((minute + 2) * 60)}
        if key.rpm:
            conditions.append("(attribute_not_exists(requests) OR requests < :rpm)")
            values[":rpm"] = _n(key.rpm)
        if key.tpm:
            conditions.append("(attribute_not_exists(tokens) OR tokens < :tpm)")
            values[":tpm"] = _n(key.tpm)
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(f"limits#{key.key_id}"), "sk": _s(f"minute#{minute}")},
                UpdateExpression="ADD requests :one SET expires_at = :exp",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
            used = int(old.get("requests", {"N": "0"})["N"])
            what = f"{key.rpm} requests" if key.rpm and used >= key.rpm else f"{key.tpm} tokens"
            raise _rate_limited(
                f"Rate limit of {what} per minute reached for key {key.key_id}.",
                60 - clock % 60,
                {},
            ) from None
        headers: dict[str, str] = {}
        if key.rpm:
            used = int(item["requests"]["N"])
            headers["anthropic-ratelimit-requests-limit"] = str(key.rpm)
            headers["anthropic-ratelimit-requests-remaining"] = str(max(0, key.rpm - used))
            headers["anthropic-ratelimit-requests-reset"] = reset
        if key.tpm:
            used = int(item.get("tokens", {"N": "0"})["N"])
            headers["anthropic-ratelimit-tokens-limit"] = str(key.tpm)
            headers["anthropic-ratelimit-tokens-remaining"] = str(max(0, key.tpm - used))
            headers["anthropic-ratelimit-tokens-reset"] = reset
        return headers

    def _budgets(self, key: ApiKey, now: datetime) -> list[tuple[str, Decimal, str, datetime]]:
        budgets = []
        if key.daily_usd is not None:
            budgets.append((f"day#{now:%Y-%m-%d}", key.daily_usd, "daily", _next_midnight(now)))
        if key.monthly_usd is not None:
            budgets.append((f"month#{now:%Y-%m}", key.monthly_usd, "monthly", _next_month(now)))
        return budgets

    def _reserve(self, key: ApiKey, estimate: Decimal, *, whole: bool = False) -> Decimal:
        """`whole`: only if the whole estimate fits in what is left of every budget."""
        now = self._now()
        budgets = self._budgets(key, now)
        for _, budget, name, reset in budgets:
            if whole and estimate > budget:
                raise _rate_limited(
                    f"The {name} budget of ${budget} for key {key.key_id} cannot cover this "
                    f"batch (up to ${estimate:.6f}).",
                    (reset - now).total_seconds(),
                    {},
                )
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": _s(f"limits#{key.key_id}"), "sk": _s(sk)},
                    "UpdateExpression": "ADD usd :est SET expires_at = :exp",
                    # Admitted while anything is left: the last request admitted may cross
                    # the budget by its own (reserved, upper-bound) cost, never more.
                    # A whole reservation (a batch) must fit in what is left.
                    "ConditionExpression": (
                        "attribute_not_exists(usd) OR usd <= :budget"
                        if whole
                        else "attribute_not_exists(usd) OR usd < :budget"
                    ),
                    "ExpressionAttributeValues": {
                        ":est": _n(estimate),
                        ":budget": _n(budget - estimate if whole else budget),
                        ":exp": _n(int((reset + timedelta(days=2)).timestamp())),
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for sk, budget, _, reset in budgets
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            for (_, budget, name, reset), reason in zip(budgets, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    left = "has too little left for this batch" if whole else "is spent"
                    raise _rate_limited(
                        f"The {name} budget of ${budget} for key {key.key_id} {left}.",
                        (reset - now).total_seconds(),
                        {},
                    ) from None
            raise
        return estimate

    def settle(self, admission: Admission, record: UsageRecord) -> None:
        key = admission.key
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _usage_item(record),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if key.tpm and record.tokens:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {
                            "pk": _s(f"limits#{key.key_id}"),
                            "sk": _s(f"minute#{admission.minute}"),
                        },
                        "UpdateExpression": "ADD tokens :t",
                        "ExpressionAttributeValues": {":t": _n(record.tokens)},
                    }
                }
            )
        delta = record.cost_usd - admission.reserved_usd
        if delta:
            items.extend(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(f"limits#{key.key_id}"), "sk": _s(sk)},
                        "UpdateExpression": "ADD usd :d",
                        "ExpressionAttributeValues": {":d": _n(delta)},
                    }
                }
                # The periods the reservation went to, even when settled (or replayed) later.
                for sk, *_ in self._budgets(key, datetime.fromtimestamp(admission.minute * 60, UTC))
            )
        try:
            # The request id makes a repeated settlement a no-op (DynamoDB idempotency token);
            # past the token's 10 minutes, the usage record's condition does the same.
            self._client.transact_write_items(
                TransactItems=items, ClientRequestToken=record.request_id[-36:]
            )
        except ClientError as error:
            reasons: list[Any] = error.response.get("CancellationReasons", [{}])
            if reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
        log_usage(record)

    def spent(self, key_id: str, period: str) -> Decimal:
        """USD counted against a budget period (`day#2026-11-26`, `month#2026-11`)."""
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(f"limits#{key_id}"), "sk": _s(period)}
        ).get("Item")
        return Decimal(item["usd"]["N"]) if item and "usd" in item else Decimal(0)

    def usage(self, key_id: str) -> list[UsageRecord]:
        records: list[UsageRecord] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"usage#{key_id}")},
        ):
            records.extend(_usage_from_item(item) for item in page.get("Items", []))
        return records

    # Shared circuit breakers.

    def is_open(self, label: str) -> bool:
        now = self._clock()
        with self._lock:
            memo = self._breakers.get(label)
        if memo is None or memo[0] <= now:
            try:
                item = self._client.get_item(
                    TableName=self._table, Key={"pk": _s(f"breaker#{label}"), "sk": _s("state")}
                ).get("Item")
            except (BotoCoreError, ClientError):
                # The shared state is advice: without the table, this instance's own breakers
                # still decide, and the request goes on.
                item = None
            until = float(item["open_until"]["N"]) if item else 0.0
            memo = (now + BREAKER_CACHE_SECONDS, until)
            with self._lock:
                self._breakers[label] = memo
        return memo[1] > now

    def trip(self, label: str, seconds: float) -> None:
        until = self._clock() + seconds
        with contextlib.suppress(BotoCoreError, ClientError):  # advice, as in is_open
            self._put_breaker(label, until)
        with self._lock:
            self._breakers[label] = (self._clock() + BREAKER_CACHE_SECONDS, until)

    def _put_breaker(self, label: str, until: float) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": _s(f"breaker#{label}"),
                "sk": _s("state"),
                "open_until": _n(Decimal(str(round(until, 3)))),
                "expires_at": _n(int(until) + 3600),
            },
        )

    # Response cache.

    def cached(self, digest: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._cache_table, Key={"pk": _s(f"cache#{digest}"), "sk": _s("reply")}
        ).get("Item")
        # TTL deletion is lazy (up to days): the expiry is checked here too.
        if not item or int(item["expires_at"]["N"]) <= self._clock():
            return None
        reply: dict[str, Any] = json.loads(item["body"]["S"])
        return reply

    def remember(self, digest: str, reply: dict[str, Any], ttl_seconds: int) -> None:
        self._client.put_item(
            TableName=self._cache_table,
            Item={
                "pk": _s(f"cache#{digest}"),
                "sk": _s("reply"),
                "body": _s(json.dumps(reply, separators=(",", ":"))),
                "expires_at": _n(int(self._clock()) + ttl_seconds),
            },
        )


def _key_item(digest: str, key: ApiKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(f"key#{digest}"),
        "sk": _s("key"),
        "key_id": _s(key.key_id),
        "owner": _s(key.owner),
        "models": {"L": [_s(m) for m in sorted(key.models)]},
        "disabled": {"BOOL": key.disabled},
        "cache": {"BOOL": key.cache},
    }
    for name in ("rpm", "tpm", "daily_usd", "monthly_usd"):
        value = getattr(key, name)
        if value is not None:
            item[name] = _n(value)
    if key.cache_group:
        item["cache_group"] = _s(key.cache_group)
    if key.downgrade:
        item["downgrade"] = {"L": [_s(m) for m in key.downgrade]}
    if key.valid_until is not None:
        item["valid_until"] = _s(key.valid_until.isoformat())
    if key.created_at is not None:
        item["created_at"] = _s(key.created_at.isoformat())
    return item


def _key_from_item(item: dict[str, Any]) -> ApiKey:
    def number(name: str) -> Decimal | None:
        return Decimal(item[name]["N"]) if name in item else None

    rpm, tpm = number("rpm"), number("tpm")
    return ApiKey(
        key_id=item["key_id"]["S"],
        owner=item["owner"]["S"],
        models=frozenset(m["S"] for m in item.get("models", {}).get("L", [])),
        rpm=int(rpm) if rpm is not None else None,
        tpm=int(tpm) if tpm is not None else None,
        daily_usd=number("daily_usd"),
        monthly_usd=number("monthly_usd"),
        valid_until=(
            datetime.fromisoformat(item["valid_until"]["S"]) if "valid_until" in item else None
        ),
        disabled=item.get("disabled", {}).get("BOOL", False),
        cache=item.get("cache", {}).get("BOOL", False),
        cache_group=item["cache_group"]["S"] if "cache_group" in item else None,
        downgrade=tuple(m["S"] for m in item.get("downgrade", {}).get("L", [])),
        created_at=(
            datetime.fromisoformat(item["created_at"]["S"]) if "created_at" in item else None
        ),
    )


_USAGE_INTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _usage_item(record: UsageRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(f"usage#{record.key_id}"),
        "sk": _s(f"{record.at.isoformat()}#{record.request_id}"),
        "request_id": _s(record.request_id),
        "key_id": _s(record.key_id),
        "model": _s(record.model),
        "backend": _s(record.backend),
        "model_id": _s(record.model_id),
        "status": _s(record.status),
        "cost_usd": _n(record.cost_usd),
        "latency_ms": _n(Decimal(str(record.latency_ms))),
        "stream": {"BOOL": record.stream},
        "cached": {"BOOL": record.cached},
        "at": _s(record.at.isoformat()),
        "expires_at": _n(int((record.at + USAGE_RETENTION).timestamp())),
        **{name: _n(getattr(record, name)) for name in _USAGE_INTS},
    }
    if record.ttft_ms is not None:
        item["ttft_ms"] = _n(Decimal(str(record.ttft_ms)))
    for name, value in record.routing_fields().items():
        item[name] = {"BOOL": value} if isinstance(value, bool) else _s(value)
    return item


def _usage_from_item(item: dict[str, Any]) -> UsageRecord:
    return UsageRecord(
        request_id=item["request_id"]["S"],
        key_id=item["key_id"]["S"],
        model=item["model"]["S"],
        backend=item["backend"]["S"],
        model_id=item["model_id"]["S"],
        status=item["status"]["S"],
        cost_usd=Decimal(item["cost_usd"]["N"]),
        latency_ms=float(item["latency_ms"]["N"]),
        ttft_ms=float(item["ttft_ms"]["N"]) if "ttft_ms" in item else None,
        stream=item["stream"]["BOOL"],
        cached=item["cached"]["BOOL"],
        at=datetime.fromisoformat(item["at"]["S"]),
        **{name: int(item[name]["N"]) for name in _USAGE_INTS},
        requested=item.get("requested", {}).get("S", ""),
        asked_model=item.get("asked_model", {}).get("S", ""),
        route=item.get("route", {}).get("S", ""),
        downgraded=item.get("downgraded", {}).get("BOOL", False),
    )
