"""`relaykit keys ...` and `relaykit usage`: issue, list and revoke relay keys, read usage.

Keys live in the relay's DynamoDB table (stack output `KeysTableName`). Behind API Gateway,
`--usage-plan` (stack output `UsagePlanId`) also registers the key in the usage plan, as a
gateway key derived from its digest (never the secret), so one key passes both.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import boto3

from relay.catalog import by_alias
from relay.dynamo import DynamoStore
from relay.gateway_key import usage_plan_key_value
from relay.keys import ApiKey
from relay.settings import key_digest
from relay.spool import open_spool, replay

Say = Callable[..., None]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="issue, list and revoke the relay's API keys")
    actions = keys.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="issue a key; its secret is printed once")
    _table_options(create)
    create.add_argument("--owner", required=True, help="who the key is for (shown in reports)")
    create.add_argument("--models", help="comma-separated catalog aliases (default: every model)")
    create.add_argument("--rpm", type=_positive_int, help="requests per minute")
    create.add_argument("--tpm", type=_positive_int, help="tokens per minute")
    create.add_argument("--daily-usd", type=_usd, help="daily budget in USD")
    create.add_argument("--monthly-usd", type=_usd, help="monthly budget in USD")
    create.add_argument("--expires", type=_date, help="last valid day, YYYY-MM-DD (UTC)")
    create.add_argument("--cache", action="store_true", help="use the response cache by default")
    create.add_argument(
        "--cache-group",
        help="share cached replies with the other keys of this group (default: the key's own)",
    )
    create.add_argument("--usage-plan", help="also admit the key at API Gateway (usage plan id)")

    listing = actions.add_parser("list", help="list keys (ids and limits, never secrets)")
    _table_options(listing)

    revoke = actions.add_parser("revoke", help="disable a key by its id (rk_...)")
    _table_options(revoke)
    revoke.add_argument("key_id")

    usage = commands.add_parser("usage", help="a key's usage records: requests, tokens, cost")
    _table_options(usage)
    usage.add_argument("key_id")

    replay = commands.add_parser(
        "usage-replay", help="settle usage records the relay spooled while its table was down"
    )
    _table_options(replay)
    replay.add_argument("--spool", required=True, help="RELAY_USAGE_SPOOL: a file or SQS URL")


def _table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="the relay's table (KeysTableName)")
    parser.add_argument("--region", help="the table's region (default: your AWS config)")
    parser.add_argument("--endpoint-url", help="another DynamoDB endpoint (local testing)")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{value} is not an amount of USD") from None
    if amount <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be greater than zero")
    return amount


def _date(value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value} is not a date like 2027-01-31") from None
    return day.replace(hour=23, minute=59, second=59)


def run(args: argparse.Namespace, say: Say = print) -> None:
    session = boto3.session.Session(region_name=args.region)
    client = session.client("dynamodb", endpoint_url=args.endpoint_url)
    store = DynamoStore(client, args.table)
    if args.command == "usage":
        _usage(store, args.key_id, say)
    elif args.command == "usage-replay":
        settled, left = replay(open_spool(args.spool, session), store.settle)
        say(f"{settled} usage records settled, {left} left in the spool")
    elif args.action == "create":
        _create(store, session, args, say)
    elif args.action == "list":
        for key in store.list_keys():
            say(_describe(key))
    else:
        store.set_disabled(args.key_id)
        say(f"{args.key_id} revoked (relays notice within seconds)")


def _create(
    store: DynamoStore, session: boto3.session.Session, args: argparse.Namespace, say: Say
) -> None:
    models = frozenset(
        by_alias(alias.strip()).anthropic_id for alias in (args.models or "").split(",") if alias
    )
    secret, key = store.create_key(
        args.owner,
        models=models,
        rpm=args.rpm,
        tpm=args.tpm,
        daily_usd=args.daily_usd,
        monthly_usd=args.monthly_usd,
        valid_until=args.expires,
        cache=args.cache,
        cache_group=args.cache_group,
    )
    if args.usage_plan:
        admit_at_gateway(session, args.usage_plan, key.key_id, key_digest(secret), say)
    say(_describe(key))
    say(f"secret (shown once): {secret}")


def admit_at_gateway(
    session: boto3.session.Session, usage_plan: str, key_id: str, digest: str, say: Say
) -> None:
    """Register the relay key in the usage plan as its derived gateway key (relay/gateway_key.py),
    never as the secret: API Gateway keeps key values readable."""
    gateway = session.client("apigateway")
    created = gateway.create_api_key(name=key_id, value=usage_plan_key_value(digest), enabled=True)
    gateway.create_usage_plan_key(usagePlanId=usage_plan, keyId=created["id"], keyType="API_KEY")
    say(f"admitted at API Gateway as API key {created['id']} in usage plan {usage_plan}")


def _describe(key: ApiKey) -> str:
    limits = [
        f"{key.rpm} req/min" if key.rpm else "",
        f"{key.tpm} tok/min" if key.tpm else "",
        f"${key.daily_usd}/day" if key.daily_usd else "",
        f"${key.monthly_usd}/month" if key.monthly_usd else "",
        f"until {key.valid_until:%Y-%m-%d}" if key.valid_until else "",
        "cache" if key.cache else "",
        f"cache group {key.cache_group}" if key.cache_group else "",
        "REVOKED" if key.disabled else "",
    ]
    models = ",".join(sorted(key.models)) or "all models"
    shown = ", ".join(x for x in limits if x) or "no limits"
    return f"{key.key_id}  {key.owner}  {models}  {shown}"


def _usage(store: DynamoStore, key_id: str, say: Say) -> None:
    records = store.usage(key_id)
    tokens = sum(r.input_tokens + r.output_tokens for r in records)
    cost = sum((r.cost_usd for r in records), Decimal(0))
    failed = sum(1 for r in records if r.status not in ("ok", "cached"))
    say(f"{key_id}: {len(records)} requests ({failed} failed), {tokens} tokens, ${cost:.6f}")
    for record in records[-20:]:
        say(
            f"  {record.at:%Y-%m-%d %H:%M:%S}  {record.model}  {record.backend}  {record.status}"
            f"  in {record.input_tokens} out {record.output_tokens}  ${record.cost_usd:.6f}"
        )
