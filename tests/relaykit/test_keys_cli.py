"""`relaykit keys` and `relaykit usage` against the relay's table (and API Gateway) in moto."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from relay.catalog import DEFAULT_MODEL, MODELS, by_alias
from relay.dynamo import DynamoStore
from relay.gateway_key import usage_plan_key_value
from relay.keys import ApiKey
from relay.ledger import Admission
from relay.pricing import cost_usd
from relay.settings import key_digest
from relay.usage import UsageRecord
from relaykit.cli import main
from relaykit.table import create_table

TABLE = "relay-keys"
REGION = "us-east-1"
WHERE = ["--table", TABLE, "--region", REGION]
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture
def store(aws) -> DynamoStore:
    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client, TABLE)
    return DynamoStore(client, TABLE)


def fresh(store: DynamoStore) -> DynamoStore:
    """A store without the key memo, as the next CLI run sees the table."""
    return DynamoStore(store._client, TABLE)


def secret_in(out: str) -> str:
    match = re.search(r"secret \(shown once\): (sk-relay-\S+)", out)
    assert match, out
    return match.group(1)


def record(key: ApiKey, model: str, at: datetime, cost: str, tokens: int = 10) -> UsageRecord:
    return UsageRecord(
        request_id=f"req_{at.timestamp()}_{model}",
        key_id=key.key_id,
        model=model,
        backend="bedrock",
        model_id=f"global.{model}",
        status="ok",
        input_tokens=tokens,
        output_tokens=tokens * 2,
        cost_usd=Decimal(cost),
        at=at,
    )


def test_create_issues_a_key_with_its_limits(store, capsys) -> None:
    args = ["keys", "create", *WHERE, "--owner", "team-a", "--rpm", "30", "--daily-usd", "2.5"]
    assert main([*args, "--models", DEFAULT_MODEL.alias, "--expires", TOMORROW]) == 0
    key = store.find(key_digest(secret_in(capsys.readouterr().out)))
    assert key is not None
    assert (key.owner, key.rpm, key.daily_usd) == ("team-a", 30, Decimal("2.5"))
    assert key.models == {DEFAULT_MODEL.anthropic_id}
    assert key.valid_until is not None
    assert key.valid_until.date().isoformat() == TOMORROW


def test_create_admits_the_key_at_api_gateway_as_its_derived_key_not_the_secret(
    store, capsys
) -> None:
    gateway = boto3.client("apigateway", region_name=REGION)
    plan = gateway.create_usage_plan(name="relay")["id"]
    assert main(["keys", "create", *WHERE, "--owner", "team-a", "--usage-plan", plan]) == 0
    secret = secret_in(capsys.readouterr().out)
    (admitted,) = gateway.get_usage_plan_keys(usagePlanId=plan)["items"]
    assert admitted["value"] != secret
    assert admitted["value"] == usage_plan_key_value(key_digest(secret))


def test_create_reads_the_table_from_the_stack_outputs(store, capsys) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"KeysTableName": {"Value": TABLE}},
    }
    cloudformation.create_stack(StackName="Relay-Test", TemplateBody=json.dumps(template))
    args = ["keys", "create", "--stack", "Relay-Test", "--region", REGION, "--owner", "team-s"]
    assert main(args) == 0
    assert store.find(key_digest(secret_in(capsys.readouterr().out))) is not None


def test_an_unknown_model_exits_2_listing_the_catalog_aliases(store, capsys) -> None:
    assert main(["keys", "create", *WHERE, "--owner", "x", "--models", "claude-foo"]) == 2
    err = capsys.readouterr().err
    assert "'claude-foo' is not a catalog model; choose from" in err
    assert "'--models'" in err
    for model in MODELS:
        assert (model.alias in err) == model.served
    assert store.list_keys() == []


def test_an_expiry_in_the_past_is_refused(store, capsys) -> None:
    assert main(["keys", "create", *WHERE, "--owner", "x", "--expires", "2020-01-01"]) == 2
    assert "2020-01-01 is in the past" in capsys.readouterr().err
    assert store.list_keys() == []


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (["--rpm", "0"], "'--rpm'"),
        (["--daily-usd", "lots"], "'lots' is not an amount of USD"),
        (["--monthly-usd", "-3"], "greater than zero"),
        (["--expires", "tomorrow"], "is not a date like"),
    ],
)
def test_bad_limits_exit_2_saying_what_is_allowed(store, capsys, bad: list[str], said: str) -> None:
    assert main(["keys", "create", *WHERE, "--owner", "x", *bad]) == 2
    assert said in capsys.readouterr().err


def test_no_region_is_one_line_naming_the_region_flag(aws, capsys, monkeypatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["keys", "list", "--table", TABLE]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("relaykit: error: no AWS region: pass --region")


def test_a_missing_table_is_one_line_with_the_fix(aws, capsys) -> None:
    assert main(["keys", "list", "--table", "no-such-table", "--region", REGION]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"relaykit: error: no table no-such-table in {REGION}: pass")
    assert "ResourceNotFoundException" not in err


def test_no_table_at_all_says_where_to_find_it(aws, capsys) -> None:
    assert main(["keys", "list", "--region", REGION]) == 1
    assert "--table is needed" in capsys.readouterr().err


def test_list_has_a_header_creation_and_last_use_and_never_secrets(store, capsys) -> None:
    main(["keys", "create", *WHERE, "--owner", "team-b", "--tpm", "1000"])
    secret = secret_in(capsys.readouterr().out)
    key = store.find(key_digest(secret))
    assert key is not None
    used = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    store.settle(Admission(key), record(key, "claude-haiku-4-5", used, "0.01"))
    assert main(["keys", "list", *WHERE]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "id", "owner", "models", "limits", "created", "last", "used", "state"
    ]  # fmt: skip
    row = next(line for line in out.splitlines() if "team-b" in line)
    assert "1000 tok/min" in row
    assert f"{key.created_at:%Y-%m-%d}" in row
    assert "2026-11-20 09:30" in row
    assert secret not in out


def test_list_json_gives_every_key(store, capsys) -> None:
    store.create_key("team-j", rpm=5)
    assert main(["keys", "list", *WHERE, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["owner"], listed["rpm"], listed["state"]) == ("team-j", 5, "active")
    assert listed["last_used"] is None
    assert "secret" not in listed


def test_show_prints_one_key(store, capsys) -> None:
    _, key = store.create_key("team-s", monthly_usd=Decimal(9))
    assert main(["keys", "show", key.key_id, *WHERE, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["key_id"], shown["monthly_usd"]) == (key.key_id, "9")
    assert main(["keys", "show", "rk_nothing", *WHERE]) == 1
    assert capsys.readouterr().err.strip() == "relaykit: error: no key with id rk_nothing"


def test_update_changes_limits_and_keeps_the_secret(store, capsys) -> None:
    secret, key = store.create_key("team-u", rpm=10, daily_usd=Decimal(1))
    args = ["keys", "update", key.key_id, *WHERE, "--rpm", "99", "--clear", "daily-usd"]
    assert main([*args, "--models", DEFAULT_MODEL.alias]) == 0
    changed = fresh(store).find(key_digest(secret))
    assert changed is not None
    assert (changed.rpm, changed.daily_usd, changed.owner) == (99, None, "team-u")
    assert changed.models == {DEFAULT_MODEL.anthropic_id}


def test_update_with_nothing_to_change_exits_2(store, capsys) -> None:
    _, key = store.create_key("team-u")
    assert main(["keys", "update", key.key_id, *WHERE]) == 2
    assert "nothing to change" in capsys.readouterr().err


def test_rotate_issues_a_new_secret_with_the_same_limits_and_revokes_the_old(store, capsys) -> None:
    old_secret, old = store.create_key("team-r", rpm=12, monthly_usd=Decimal(5))
    assert main(["keys", "rotate", old.key_id, *WHERE]) == 0
    new_secret = secret_in(capsys.readouterr().out)
    current = fresh(store)
    revoked, new = current.find(key_digest(old_secret)), current.find(key_digest(new_secret))
    assert revoked is not None
    assert revoked.disabled
    assert new is not None
    assert (new.owner, new.rpm, new.monthly_usd, new.disabled) == ("team-r", 12, Decimal(5), False)


def test_revoke_disables_the_key(store, capsys) -> None:
    secret, key = store.create_key("team-c")
    assert main(["keys", "revoke", key.key_id, *WHERE]) == 0
    revoked = fresh(store).find(key_digest(secret))
    assert revoked is not None
    assert revoked.disabled


def test_revoking_an_unknown_key_fails_with_one_line(store, capsys) -> None:
    assert main(["keys", "revoke", "rk_nothing", *WHERE]) == 1
    assert capsys.readouterr().err.strip() == "relaykit: error: no key with id rk_nothing"


def test_usage_of_an_unknown_key_exits_1(store, capsys) -> None:
    assert main(["usage", "rk_nothing", *WHERE]) == 1
    assert capsys.readouterr().err.strip() == "relaykit: error: no key with id rk_nothing"


@pytest.fixture
def used_key(store) -> ApiKey:
    _, key = store.create_key("team-d")
    for at, model, cost in (
        (datetime(2026, 11, 1, 10, tzinfo=UTC), "claude-haiku-4-5", "0.01"),
        (datetime(2026, 11, 2, 10, tzinfo=UTC), "claude-haiku-4-5", "0.02"),
        (datetime(2026, 11, 2, 11, tzinfo=UTC), "claude-sonnet-4-6", "0.04"),
        (datetime(2026, 11, 5, 10, tzinfo=UTC), "claude-sonnet-4-6", "0.08"),
    ):
        store.settle(Admission(key), record(key, model, at, cost))
    return key


def test_usage_sums_per_model_between_two_days(store, used_key, capsys) -> None:
    args = ["usage", used_key.key_id, *WHERE, "--since", "2026-11-02", "--until", "2026-11-05"]
    assert main([*args, "--by", "model", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["requests"], summary["cost_usd"]) == (3, "0.14")
    assert summary["by_model"]["claude-haiku-4-5"]["cost_usd"] == "0.02"
    assert summary["by_model"]["claude-sonnet-4-6"]["requests"] == 2


def test_usage_by_day_prints_a_table_and_totals(store, used_key, capsys) -> None:
    args = ["usage", used_key.key_id, *WHERE, "--since", "2026-11-01", "--until", "2026-11-02"]
    assert main([*args, "--by", "day"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^2026-11-01\s+1\s+0\s+10\s+20\s+0\s+\$0\.01$", out, re.M), out
    assert re.search(r"^2026-11-02\s+2\s+0\s+20\s+40\s+0\s+\$0\.06$", out, re.M), out
    assert out.rstrip().endswith(
        "total: 3 requests (0 failed), 30 input and 60 output tokens, $0.07"
    )


def test_usage_refuses_until_before_since(store, used_key, capsys) -> None:
    args = ["usage", used_key.key_id, *WHERE, "--since", "2026-11-05", "--until", "2026-11-01"]
    assert main(args) == 2
    assert "--until is before --since" in capsys.readouterr().err


def test_usage_replay_settles_a_spooled_record(store, capsys, tmp_path) -> None:
    from relay.spool import FileSpool, dumps

    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.5"))
    spool = FileSpool(tmp_path / "usage.jsonl")
    spooled = UsageRecord(
        "req_1", key.key_id, "m", "bedrock/us-east-1", "x", "ok", cost_usd=Decimal("0.1")
    )
    spool.keep(dumps(admission, spooled))
    assert main(["usage-replay", *WHERE, "--spool", str(spool.path)]) == 0
    assert "1 usage records settled, 0 left" in capsys.readouterr().out
    assert [r.request_id for r in store.usage(key.key_id)] == ["req_1"]
    assert store.spent(key.key_id, f"day#{spooled.at:%Y-%m-%d}") == Decimal("0.1")


def test_create_puts_the_key_in_a_cache_group(store, capsys) -> None:
    assert main(["keys", "create", *WHERE, "--owner", "team-a", "--cache-group", "shared"]) == 0
    secret = secret_in(capsys.readouterr().out)
    key = store.find(key_digest(secret))
    assert key is not None
    assert key.cache_group == "shared"


def test_create_and_update_set_a_keys_budget_downgrade_in_order(store, capsys) -> None:
    argv = ["keys", "create", *WHERE, "--owner", "team-d", "--daily-usd", "5"]
    assert main([*argv, "--downgrade", "claude-sonnet-4-5,claude-haiku-4-5"]) == 0
    key = store.find(key_digest(secret_in(capsys.readouterr().out)))
    assert key is not None
    sonnet, haiku = (by_alias(a).anthropic_id for a in ("claude-sonnet-4-5", "claude-haiku-4-5"))
    assert key.downgrade == (sonnet, haiku)
    assert main(["keys", "update", key.key_id, *WHERE, "--downgrade", "claude-haiku-4-5"]) == 0
    assert "downgrade to claude-haiku-4-5" in capsys.readouterr().out
    assert fresh(store).key_by_id(key.key_id).downgrade == (haiku,)
    assert main(["keys", "update", key.key_id, *WHERE, "--clear", "downgrade"]) == 0
    assert fresh(store).key_by_id(key.key_id).downgrade == ()


def test_an_unknown_downgrade_model_is_refused(store, capsys) -> None:
    argv = ["keys", "create", *WHERE, "--owner", "team-d", "--downgrade", "claude-tiny"]
    assert main(argv) == 2
    assert "'--downgrade'" in capsys.readouterr().err


def test_usage_savings_prices_routed_records_at_the_model_asked_for(store, capsys) -> None:
    _, key = store.create_key("team-s")
    haiku, sonnet = by_alias("claude-haiku-4-5"), by_alias("claude-sonnet-4-5")
    usage = {"input_tokens": 1000, "output_tokens": 2000}
    at = datetime(2026, 11, 3, 10, tzinfo=UTC)
    routed = dataclasses.replace(
        record(key, haiku.anthropic_id, at, str(cost_usd(haiku, usage, premium=False)), 1000),
        asked_model=sonnet.anthropic_id,
        route="claude-auto/short",
    )
    direct = record(key, sonnet.anthropic_id, at + timedelta(hours=1), "0.05")
    for one in (routed, direct):
        store.settle(Admission(key), one)
    args = ["usage", key.key_id, *WHERE, "--since", "2026-11-01", "--until", "2026-11-05"]
    assert main([*args, "--savings", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    at_sonnet = cost_usd(sonnet, usage, premium=False)
    assert Decimal(report["at_asked_usd"]) == at_sonnet + Decimal("0.05")
    assert Decimal(report["saved_usd"]) == at_sonnet - routed.cost_usd
    pairs = {(p["asked"], p["served"]): p["requests"] for p in report["by"]}
    assert pairs == {
        (sonnet.anthropic_id, haiku.anthropic_id): 1,
        (sonnet.anthropic_id, sonnet.anthropic_id): 1,
    }
    assert main([*args, "--savings"]) == 0
    assert "saved $" in capsys.readouterr().out
