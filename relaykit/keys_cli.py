"""`relaykit keys create|list|show|update|rotate|revoke` and `relaykit usage`: a key's lifecycle.

Keys live in the relay's DynamoDB table (stack output `KeysTableName`; `--stack` reads it from
the stack). Behind API Gateway, `--usage-plan` (stack output `UsagePlanId`) also registers the
key in the usage plan, as a gateway key derived from its digest (never the secret), so one key
passes both. Against the table of
`relaykit local`/`serve`, pass the `--endpoint-url` they print.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import ClientError

from relay.catalog import MODELS, UnknownModelError, by_alias
from relay.dynamo import KEY_CACHE_SECONDS, DynamoStore
from relay.gateway_key import usage_plan_key_value
from relay.keys import ApiKey
from relay.settings import key_digest
from relay.spool import open_spool, replay
from relay.usage import UsageRecord
from relaykit import usage_savings
from relaykit.failures import Failure
from relaykit.options import AwsEndpoint, AwsRegion, Json
from relaykit.output import day, emit_json, table, usd
from relaykit.stack_outputs import stack_output

Say = Callable[..., None]

keys = typer.Typer(
    help="Issue, list, show, update, rotate and revoke the relay's API keys.",
    no_args_is_help=True,
)

# Where the table is: the same four options on every key command.
TableName = Annotated[
    str | None,
    typer.Option(
        "--table",
        envvar="RELAYKIT_TABLE",
        help="The relay's table (stack output KeysTableName). [default: from --stack]",
    ),
]
StackName = Annotated[
    str | None,
    typer.Option("--stack", help="Read --table from this relay stack's outputs."),
]
KeyId = Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (rk_...).")]


def _positive_usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not an amount of USD, e.g. 2.50") from None
    if not amount.is_finite() or amount <= 0:
        raise typer.BadParameter(f"{value} must be an amount greater than zero, e.g. 2.50")
    return amount


def _future_day(value: str) -> datetime:
    try:
        moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2027-01-31") from None
    last = moment.replace(hour=23, minute=59, second=59)
    if last < datetime.now(UTC):
        raise typer.BadParameter(
            f"{value} is in the past: the key would be expired; give today or a later day (UTC)"
        )
    return last


def _day(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-01") from None


Owner = Annotated[str, typer.Option(help="Who the key is for (shown in reports).")]
Models = Annotated[
    str | None,
    typer.Option(help="Comma-separated catalog aliases. [default: every model]"),
]
Rpm = Annotated[int | None, typer.Option(min=1, help="Requests per minute.")]
Tpm = Annotated[int | None, typer.Option(min=1, help="Tokens per minute.")]
DailyUsd = Annotated[
    Decimal | None, typer.Option(parser=_positive_usd, metavar="USD", help="Daily budget in USD.")
]
MonthlyUsd = Annotated[
    Decimal | None,
    typer.Option(parser=_positive_usd, metavar="USD", help="Monthly budget in USD."),
]
Expires = Annotated[
    datetime | None,
    typer.Option(
        parser=_future_day, metavar="YYYY-MM-DD", help="Last valid day (UTC); not in the past."
    ),
]
CacheGroup = Annotated[
    str | None,
    typer.Option(
        help="Share cached replies with the other keys of this group. [default: the key's own]"
    ),
]
Downgrade = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated cheaper models (catalog aliases, in order) that serve a request "
        "the budget would not cover at the model asked for, before it is refused. "
        "[default: the relay's RELAY_BUDGET_DOWNGRADE]"
    ),
]
UsagePlan = Annotated[
    str | None,
    typer.Option(help="Also admit the key at API Gateway (stack output UsagePlanId)."),
]


def model_ids(aliases: str | None) -> frozenset[str]:
    """The Anthropic ids of comma-separated aliases; BadParameter listing what is allowed."""
    return frozenset(ordered_model_ids(aliases, "--models"))


def ordered_model_ids(aliases: str | None, flag: str) -> tuple[str, ...]:
    """The Anthropic ids of comma-separated aliases, in their order and once each."""
    ids: dict[str, None] = {}
    for alias in filter(None, (a.strip() for a in (aliases or "").split(","))):
        try:
            ids[by_alias(alias).anthropic_id] = None
        except UnknownModelError:
            allowed = ", ".join(m.alias for m in MODELS if m.served)
            raise typer.BadParameter(
                f"{alias!r} is not a catalog model; choose from {allowed}",
                param_hint=f"'{flag}'",
            ) from None
    return tuple(ids)


@dataclasses.dataclass(frozen=True)
class KeysTable:
    """The relay's table and the session that reaches it."""

    store: DynamoStore
    session: boto3.session.Session
    name: str


def _session(region: str | None, endpoint_url: str | None) -> boto3.session.Session:
    session = boto3.session.Session(region_name=region)
    if endpoint_url and session.get_credentials() is None:
        # The embedded AWS of `relaykit local` checks no signature: any credentials do.
        return boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - not a secret, see above
            region_name=region or "us-east-1",
        )
    return session


def open_table(
    table_name: str | None, stack: str | None, region: str | None, endpoint_url: str | None
) -> KeysTable:
    session = _session(region, endpoint_url)
    if table_name is None:
        if stack is None:
            raise Failure(
                "--table is needed: the relay stack's KeysTableName output "
                "(`relaykit status` lists it), or --stack NAME to read it"
            )
        table_name = stack_output(session, stack, "KeysTableName")
    client = session.client("dynamodb", endpoint_url=endpoint_url)
    return KeysTable(DynamoStore(client, table_name), session, table_name)


@contextlib.contextmanager
def _table_errors(table: KeysTable) -> Iterator[None]:
    """A missing table is a wrong --table or --region: say so, not ResourceNotFoundException."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise Failure(
            f"no table {table.name} in {table.session.region_name}: pass the relay stack's "
            "KeysTableName output as --table and its region as --region (`relaykit status`)"
        ) from None


def admit_at_gateway(
    session: boto3.session.Session, usage_plan: str, key_id: str, digest: str, say: Say
) -> None:
    """Register the relay key in the usage plan as its derived gateway key (relay/gateway_key.py),
    never as the secret: API Gateway keeps key values readable."""
    gateway = session.client("apigateway")
    created = gateway.create_api_key(name=key_id, value=usage_plan_key_value(digest), enabled=True)
    gateway.create_usage_plan_key(usagePlanId=usage_plan, keyId=created["id"], keyType="API_KEY")
    say(f"admitted at API Gateway as API key {created['id']} in usage plan {usage_plan}")


def _limits(key: ApiKey) -> str:
    limits = [
        f"{key.rpm} req/min" if key.rpm else "",
        f"{key.tpm} tok/min" if key.tpm else "",
        f"${key.daily_usd}/day" if key.daily_usd else "",
        f"${key.monthly_usd}/month" if key.monthly_usd else "",
        f"until {key.valid_until:%Y-%m-%d}" if key.valid_until else "",
        "cache" if key.cache else "",
        f"cache group {key.cache_group}" if key.cache_group else "",
        f"downgrade to {','.join(map(_alias, key.downgrade))}" if key.downgrade else "",
    ]
    return ", ".join(x for x in limits if x) or "no limits"


def _state(key: ApiKey) -> str:
    if key.disabled:
        return "revoked"
    if key.valid_until and key.valid_until < datetime.now(UTC):
        return "expired"
    return "active"


def _alias(model_id: str) -> str:
    try:
        return by_alias(model_id).alias
    except UnknownModelError:
        return model_id


def _describe(key: ApiKey) -> str:
    models = ",".join(sorted(key.models)) or "all models"
    return f"{key.key_id}  {key.owner}  {models}  {_limits(key)}  {_state(key)}"


def key_json(key: ApiKey, last_used: datetime | None = None) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "models": sorted(key.models),
        "rpm": key.rpm,
        "tpm": key.tpm,
        "daily_usd": key.daily_usd,
        "monthly_usd": key.monthly_usd,
        "valid_until": key.valid_until,
        "cache": key.cache,
        "cache_group": key.cache_group,
        "downgrade": list(key.downgrade),
        "state": _state(key),
        "created_at": key.created_at,
        "last_used": last_used,
    }


def _issued(key: ApiKey, secret: str, json: bool) -> None:
    if json:
        emit_json({**key_json(key), "secret": secret})
    else:
        print(_describe(key))
        print(f"secret (shown once): {secret}")


@keys.command()
def create(
    owner: Owner,
    models: Models = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    daily_usd: DailyUsd = None,
    monthly_usd: MonthlyUsd = None,
    expires: Expires = None,
    cache: Annotated[bool, typer.Option(help="Use the response cache by default.")] = False,
    cache_group: CacheGroup = None,
    downgrade: Downgrade = None,
    usage_plan: UsagePlan = None,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """Issue a key; its secret is printed once.

    Example: relaykit keys create --stack ClaudeRelay-Relay-Primary --owner team-a --rpm 60
    """
    allowed = model_ids(models)
    cheaper = ordered_model_ids(downgrade, "--downgrade")
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        secret, key = where.store.create_key(
            owner,
            models=allowed,
            rpm=rpm,
            tpm=tpm,
            daily_usd=daily_usd,
            monthly_usd=monthly_usd,
            valid_until=expires,
            cache=cache,
            cache_group=cache_group,
            downgrade=cheaper,
        )
    if usage_plan:
        admit_at_gateway(where.session, usage_plan, key.key_id, key_digest(secret), print)
    _issued(key, secret, json)


@keys.command("list")
def list_keys(
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """List keys with their limits, creation and last use (never secrets).

    Example: relaykit keys list --stack ClaudeRelay-Relay-Primary
    """
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        found = [(key, where.store.last_used(key.key_id)) for key in where.store.list_keys()]
    if json:
        emit_json([key_json(key, used) for key, used in found])
        return
    header = ("id", "owner", "models", "limits", "created", "last used", "state")
    table_rows = (
        (
            key.key_id,
            key.owner,
            ",".join(sorted(_alias(m) for m in key.models)) or "all",
            _limits(key),
            day(key.created_at),
            day(used),
            _state(key),
        )
        for key, used in found
    )
    table(header, table_rows)


@keys.command()
def show(
    key_id: KeyId,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """Show one key: owner, models, limits, state, creation and last use.

    Example: relaykit keys show rk_0123456789abcdef --stack ClaudeRelay-Relay-Primary
    """
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        key = where.store.key_by_id(key_id)
        used = where.store.last_used(key_id)
    data = key_json(key, used)
    if json:
        emit_json(data)
        return
    for name, value in data.items():
        shown = ",".join(value) if isinstance(value, list) else value
        print(f"{name + ':':13} {'-' if shown in (None, '') else shown}")


class Limit(StrEnum):
    MODELS = "models"
    RPM = "rpm"
    TPM = "tpm"
    DAILY_USD = "daily-usd"
    MONTHLY_USD = "monthly-usd"
    EXPIRES = "expires"
    DOWNGRADE = "downgrade"


@keys.command()
def update(
    key_id: KeyId,
    owner: Annotated[str | None, typer.Option(help="A new owner.")] = None,
    models: Models = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    daily_usd: DailyUsd = None,
    monthly_usd: MonthlyUsd = None,
    expires: Expires = None,
    cache: Annotated[
        bool | None, typer.Option("--cache/--no-cache", help="Response cache by default.")
    ] = None,
    cache_group: CacheGroup = None,
    downgrade: Downgrade = None,
    clear: Annotated[list[Limit] | None, typer.Option(help="Remove a limit (repeatable).")] = None,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """Change a key's owner, models or limits; the secret stays. Relays see it within 10 s.

    Example: relaykit keys update rk_0123456789abcdef --rpm 120 --clear daily-usd
    """
    changes: dict[str, Any] = {
        "owner": owner,
        "rpm": rpm,
        "tpm": tpm,
        "daily_usd": daily_usd,
        "monthly_usd": monthly_usd,
        "valid_until": expires,
        "cache": cache,
        "cache_group": cache_group,
    }
    changes = {name: value for name, value in changes.items() if value is not None}
    if models is not None:
        changes["models"] = model_ids(models)
    if downgrade is not None:
        changes["downgrade"] = ordered_model_ids(downgrade, "--downgrade")
    cleared: dict[Limit, object] = {Limit.MODELS: frozenset(), Limit.DOWNGRADE: ()}
    for limit in clear or ():
        field = {"expires": "valid_until"}.get(limit.value, limit.value.replace("-", "_"))
        if field in changes:
            raise typer.BadParameter(f"--clear {limit.value} contradicts --{limit.value}")
        changes[field] = cleared.get(limit)
    if not changes:
        raise typer.BadParameter(
            "nothing to change: give --owner, --models, --rpm, --tpm, --daily-usd, "
            "--monthly-usd, --expires, --cache/--no-cache, --cache-group, --downgrade or --clear"
        )
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        key = dataclasses.replace(where.store.key_by_id(key_id), **changes)
        where.store.replace_key(key)
    if json:
        emit_json(key_json(key))
    else:
        print(_describe(key))


@keys.command()
def rotate(
    key_id: KeyId,
    usage_plan: UsagePlan = None,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """Issue a new secret with the same owner and limits, then revoke the old key.

    The new key has a new id (ids derive from the secret); its secret is printed once.
    Example: relaykit keys rotate rk_0123456789abcdef --stack ClaudeRelay-Relay-Primary
    """
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        old = where.store.key_by_id(key_id)
        secret, key = where.store.create_key(
            old.owner,
            models=old.models,
            rpm=old.rpm,
            tpm=old.tpm,
            daily_usd=old.daily_usd,
            monthly_usd=old.monthly_usd,
            valid_until=old.valid_until,
            cache=old.cache,
            cache_group=old.cache_group,
            downgrade=old.downgrade,
        )
        where.store.set_disabled(key_id)
    if usage_plan:
        admit_at_gateway(where.session, usage_plan, key.key_id, key_digest(secret), print)
    if not json:
        print(f"{key_id} revoked; its replacement:")
    _issued(key, secret, json)


@keys.command()
def revoke(
    key_id: KeyId,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
) -> None:
    """Disable a key by its id; relays refuse it within 10 s (their key cache).

    Example: relaykit keys revoke rk_0123456789abcdef --stack ClaudeRelay-Relay-Primary
    """
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        where.store.set_disabled(key_id)
    print(f"{key_id} revoked (relays notice within {KEY_CACHE_SECONDS:.0f} s)")


class GroupBy(StrEnum):
    MODEL = "model"
    DAY = "day"


def _totals(records: list[UsageRecord]) -> dict[str, Any]:
    return {
        "requests": len(records),
        "failed": sum(1 for r in records if r.status not in ("ok", "cached")),
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "cache_read_tokens": sum(r.cache_read_tokens for r in records),
        "cache_write_tokens": sum(r.cache_write_tokens for r in records),
        "cost_usd": sum((r.cost_usd for r in records), Decimal(0)),
    }


def _total_cells(label: str, totals: dict[str, Any]) -> tuple[str, ...]:
    return (
        label,
        str(totals["requests"]),
        str(totals["failed"]),
        str(totals["input_tokens"]),
        str(totals["output_tokens"]),
        str(totals["cache_read_tokens"]),
        usd(totals["cost_usd"]),
    )


def usage(
    key_id: KeyId,
    since: Annotated[
        datetime | None,
        typer.Option(
            parser=_day, metavar="YYYY-MM-DD", help="First day (UTC). [default: 30 days ago]"
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(parser=_day, metavar="YYYY-MM-DD", help="Last day (UTC). [default: today]"),
    ] = None,
    by: Annotated[
        GroupBy | None, typer.Option(help="Sum per model or per day instead of listing.")
    ] = None,
    savings: Annotated[
        bool,
        typer.Option(
            "--savings",
            help="Spend beside what it would have been at the models asked for (routers, "
            "budget downgrades), per model asked for and model served.",
        ),
    ] = False,
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
    json: Json = False,
) -> None:
    """A key's usage between two days: requests, tokens and cost, with totals.

    Example: relaykit usage rk_0123456789abcdef --since 2026-11-01 --by model
    """
    if savings and by:
        raise typer.BadParameter("--savings groups by model asked for and served; drop --by")
    now = datetime.now(UTC)
    start = since or (now - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = (until or now).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    if end <= start:
        raise typer.BadParameter("--until is before --since")
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        where.store.key_by_id(key_id)
        records = [r for r in where.store.usage(key_id) if start <= r.at < end]
    records.sort(key=lambda r: r.at)
    groups: dict[str, list[UsageRecord]] = defaultdict(list)
    for record in records:
        label = record.model if by is GroupBy.MODEL else f"{record.at:%Y-%m-%d}"
        groups[label].append(record)
    period = f"{start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}"
    if savings:
        report = usage_savings.savings(records)
        if json:
            emit_json({"key_id": key_id, "since": start, "until": end, **report})
        else:
            print(f"{key_id}, {period} (UTC)")
            usage_savings.print_savings(report)
        return
    if json:
        data: dict[str, Any] = {"key_id": key_id, "since": start, "until": end, **_totals(records)}
        if by:
            data["by_" + by.value] = {label: _totals(group) for label, group in groups.items()}
        else:
            data["records"] = [dataclasses.asdict(r) for r in records]
        emit_json(data)
        return
    print(f"{key_id}, {period} (UTC)")
    if by:
        header = (by.value, "requests", "failed", "input", "output", "cache read", "cost")
        rows = [_total_cells(label, _totals(group)) for label, group in sorted(groups.items())]
    else:
        header = ("at", "model", "backend", "status", "input", "output", "cost")
        rows = [
            (
                f"{r.at:%Y-%m-%d %H:%M:%S}",
                r.model,
                r.backend,
                r.status,
                str(r.input_tokens),
                str(r.output_tokens),
                usd(r.cost_usd),
            )
            for r in records
        ]
    totals = _totals(records)
    table(header, rows)
    print(
        f"total: {totals['requests']} requests ({totals['failed']} failed), "
        f"{totals['input_tokens']} input and {totals['output_tokens']} output tokens, "
        f"{usd(totals['cost_usd'])}"
    )


def usage_replay(
    spool: Annotated[
        str,
        typer.Option(
            help="The relay's RELAY_USAGE_SPOOL: a file, or an SQS queue URL (stack output)."
        ),
    ],
    table_name: TableName = None,
    stack: StackName = None,
    region: AwsRegion = None,
    endpoint_url: AwsEndpoint = None,
) -> None:
    """Settle the usage records a relay spooled while its table was down.

    Example: relaykit usage-replay --spool /var/spool/relay/usage.jsonl --table RelayKeys
    """
    where = open_table(table_name, stack, region, endpoint_url)
    with _table_errors(where):
        settled, left = replay(open_spool(spool, where.session), where.store.settle)
    print(f"{settled} usage records settled, {left} left in the spool")
