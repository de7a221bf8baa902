"""`relaykit keys` and `relaykit usage` against the relay's table (and API Gateway) in moto."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from relay.catalog import DEFAULT_MODEL
from relay.dynamo import DynamoStore
from relay.gateway_key import usage_plan_key_value
from relay.settings import key_digest
from relaykit.cli import main
from relaykit.table import create_table

TABLE = "relay-keys"
REGION = "us-east-1"
WHERE = ["--table", TABLE, "--region", REGION]


@pytest.fixture
def store(monkeypatch) -> Iterator[DynamoStore]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, TABLE)
        yield DynamoStore(client, TABLE)


def secret_in(out: str) -> str:
    match = re.search(r"secret \(shown once\): (sk-relay-\S+)", out)
    assert match, out
    return match.group(1)


def test_create_issues_a_key_with_its_limits(store, capsys) -> None:
    args = ["keys", "create", *WHERE, "--owner", "team-a", "--rpm", "30", "--daily-usd", "2.5"]
    assert main([*args, "--models", DEFAULT_MODEL.alias, "--expires", "2027-01-31"]) == 0
    key = store.find(key_digest(secret_in(capsys.readouterr().out)))
    assert key is not None
    assert (key.owner, key.rpm, key.daily_usd) == ("team-a", 30, Decimal("2.5"))
    assert key.models == {DEFAULT_MODEL.anthropic_id}
    assert key.valid_until is not None
    assert key.valid_until.date().isoformat() == "2027-01-31"


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


def test_list_shows_ids_and_limits_never_secrets(store, capsys) -> None:
    main(["keys", "create", *WHERE, "--owner", "team-b", "--tpm", "1000"])
    secret = secret_in(capsys.readouterr().out)
    assert main(["keys", "list", *WHERE]) == 0
    out = capsys.readouterr().out
    assert "team-b" in out
    assert "1000 tok/min" in out
    assert secret not in out


def test_revoke_disables_the_key(store, capsys) -> None:
    main(["keys", "create", *WHERE, "--owner", "team-c"])
    secret = secret_in(capsys.readouterr().out)
    key = store.find(key_digest(secret))
    assert key is not None
    assert main(["keys", "revoke", key.key_id, *WHERE]) == 0
    fresh = DynamoStore(store._client, TABLE).find(key_digest(secret))
    assert fresh is not None
    assert fresh.disabled


def test_revoking_an_unknown_key_fails_with_one_line(store, capsys) -> None:
    assert main(["keys", "revoke", "rk_nothing", *WHERE]) == 1
    assert capsys.readouterr().err.strip() == "relaykit: error: no key with id rk_nothing"


def test_usage_summarises_a_keys_records(store, capsys) -> None:
    _, key = store.create_key("team-d")
    assert main(["usage", key.key_id, *WHERE]) == 0
    assert capsys.readouterr().out.startswith(f"{key.key_id}: 0 requests")


@pytest.mark.parametrize(
    "bad",
    [["--rpm", "0"], ["--daily-usd", "lots"], ["--expires", "tomorrow"]],
)
def test_bad_limits_exit_2(store, bad: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["keys", "create", *WHERE, "--owner", "x", *bad])
    assert raised.value.code == 2


def test_usage_replay_settles_a_spooled_record(store, capsys, tmp_path) -> None:
    from relay.spool import FileSpool, dumps
    from relay.usage import UsageRecord

    _, key = store.create_key("team-a", daily_usd=Decimal(1))
    admission = store.admit(key, Decimal("0.5"))
    spool = FileSpool(tmp_path / "usage.jsonl")
    record = UsageRecord(
        "req_1", key.key_id, "m", "bedrock/us-east-1", "x", "ok", cost_usd=Decimal("0.1")
    )
    spool.keep(dumps(admission, record))
    main(["usage-replay", *WHERE, "--spool", str(spool.path)])
    assert "1 usage records settled, 0 left" in capsys.readouterr().out
    assert [r.request_id for r in store.usage(key.key_id)] == ["req_1"]
    assert store.spent(key.key_id, f"day#{record.at:%Y-%m-%d}") == Decimal("0.1")
