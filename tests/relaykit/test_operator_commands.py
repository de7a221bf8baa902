"""`relaykit status`, `invoke`, `env`, `cost` and `doctor` against relay stacks created in moto
(its server, reached through AWS_ENDPOINT_URL), a local relay in front of the simulator, and,
where moto lacks Bedrock's control-plane calls, a botocore Stubber."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from relay.app import create_app
from relay.catalog import BATCH_PRICE_FACTOR, DEFAULT_MODEL, MILLION, Routing, by_alias
from relay.settings import Settings, key_digest
from relay.targets import bedrock_target
from relaykit.cli import main
from relaykit.deployment import deployment_config
from relaykit.doctor import run_checks
from relaykit.environment import LOCAL_TABLE, environment
from relaykit.local_aws import LocalAws
from relaykit.stack_outputs import RELAY_OUTPUTS
from relaykit.threaded import ThreadedServer

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
CONFIG = ["--config", str(CDK_JSON)]
KEY = "sk-relay-operator-tests"
PRIMARY = "ClaudeRelay-Relay-Primary"
HONG_KONG_CONTEXT = [
    "relaykit.hongKong.enabled=true",
    "relaykit.waf.enabled=true",
    'relaykit.waf.allowedCountries=["HK"]',
]
HONG_KONG = [arg for pair in HONG_KONG_CONTEXT for arg in ("-c", pair)]


@pytest.fixture(scope="module")
def relay_url() -> Iterator[str]:
    """The relay in front of the simulator on a loopback port, accepting KEY."""
    settings = Settings(
        bedrock_region="us-east-1",
        routing=Routing.GLOBAL,
        key_digests=frozenset({key_digest(KEY)}),
        table_name=LOCAL_TABLE,
    )
    with (
        environment("simulator", settings) as env,
        ThreadedServer(create_app(env.settings, env.services), name="relay") as server,
    ):
        yield server.url


def relay_outputs(url: str, region: str) -> dict[str, str]:
    """The outputs RelayStack declares (a test in tests/stacks/aws checks the names agree)."""
    target = bedrock_target(DEFAULT_MODEL, region, Routing.GLOBAL)
    return {
        "EndpointUrl": url,
        "AnthropicBaseUrlExport": f"export ANTHROPIC_BASE_URL={url}",
        "BedrockRegion": region,
        "Routing": Routing.GLOBAL.value,
        "ModelIds": target.model_id,
        "AlarmTopicArn": f"arn:aws:sns:{region}:123456789012:alarms",
        "KeysTableName": "relay-keys",
        "UsagePlanId": "plan123",
    }


def create_stack(region: str, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


@pytest.fixture(scope="module")
def cloud(relay_url: str) -> Iterator[LocalAws]:
    """moto's server as every AWS endpoint, holding the primary relay and observability stacks."""
    with LocalAws() as aws, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        create_stack("us-east-1", PRIMARY, relay_outputs(relay_url, "us-east-1"))
        create_stack(
            "us-east-1", "ClaudeRelay-Observability", {"DashboardName": "ClaudeRelay-relay"}
        )
        create_stack("us-east-1", "Unrelated", {"EndpointUrl": "https://elsewhere.example"})
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="28", Type="String"
        )
        yield aws


# status


def test_the_moto_stacks_carry_every_output_relaykit_reads(relay_url) -> None:
    assert set(RELAY_OUTPUTS) <= set(relay_outputs(relay_url, "us-east-1"))


def test_status_lists_the_relays_from_the_stack_outputs(cloud, relay_url, capsys) -> None:
    assert main(["status", *CONFIG, "--no-access"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(PRIMARY))
    assert row.split() == [
        PRIMARY,
        "us-east-1",
        "CREATE_COMPLETE",
        relay_url,
        "us-east-1",
        "global",
    ]
    assert "Unrelated" not in out
    assert (
        "dashboard: https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards/dashboard/ClaudeRelay-relay" in out
    )
    assert f"alarms {PRIMARY}: https://us-east-1.console.aws.amazon.com/" in out
    assert "global hostname: none configured" in out


def test_status_json_carries_every_output(cloud, relay_url, capsys) -> None:
    assert main(["status", *CONFIG, "--no-access", "--json"]) == 0
    (relay,) = json.loads(capsys.readouterr().out)["relays"]
    assert relay["outputs"] == relay_outputs(relay_url, "us-east-1")


def test_status_says_where_it_found_no_relay(cloud, capsys) -> None:
    assert main(["status", *CONFIG, "--region", "eu-west-1"]) == 0
    assert "No ClaudeRelay-* relay stack in eu-west-1" in capsys.readouterr().out


def test_status_reports_model_access_it_cannot_read(cloud, capsys) -> None:
    # moto has no GetFoundationModelAvailability: the line says so instead of guessing.
    assert main(["status", *CONFIG]) == 0
    target = bedrock_target(DEFAULT_MODEL, "us-east-1", Routing.GLOBAL)
    assert (
        f"FAIL {PRIMARY}: {DEFAULT_MODEL.bedrock_id} in us-east-1: cannot read"
        in (capsys.readouterr().out)
        or target.model_id
    )


# invoke


def test_invoke_smoke_tests_a_relay_with_the_sdks(relay_url, capsys) -> None:
    assert main(["invoke", "--endpoint", relay_url, "--key", KEY, "--openai"]) == 0
    out = capsys.readouterr().out
    plain = rf"^ok  messages\.create\({DEFAULT_MODEL.alias}\): \d+ ms, \d+ in \+ \d+ out tokens, "
    assert re.search(plain + r"\$0\.\d+$", out, re.M), out
    assert re.search(r"^ok  messages\.stream\(.*first token \d+ ms, \d+ ms, ", out, re.M), out
    assert re.search(r"^ok  chat\.completions\.create\(", out, re.M), out
    assert out.count("x-relay-backend=") == 3


def test_invoke_finds_the_endpoint_in_the_stack(cloud, relay_url, capsys) -> None:
    assert main(["invoke", "--stack", PRIMARY, "--region", "us-east-1", "--key", KEY]) == 0
    assert capsys.readouterr().out.startswith(f"relay: {relay_url}\n")


def test_invoke_with_a_wrong_key_exits_1_with_the_reason(relay_url, capsys) -> None:
    assert main(["invoke", "--endpoint", relay_url, "--key", "sk-wrong"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"relaykit: error: messages.create({DEFAULT_MODEL.alias}): HTTP 401")


def test_invoke_of_nothing_listening_exits_1(capsys) -> None:
    assert main(["invoke", "--endpoint", "http://127.0.0.1:9", "--key", KEY]) == 1
    assert "cannot reach http://127.0.0.1:9: is the relay running?" in capsys.readouterr().err


def test_invoke_of_an_unknown_stack_names_the_flag(cloud, capsys) -> None:
    assert main(["invoke", "--stack", "Nope", "--key", KEY]) == 1
    assert capsys.readouterr().err.startswith("relaykit: error: --stack Nope: no such stack")


# env


def test_env_exports_the_stack_endpoint_per_shell(cloud, relay_url, capsys) -> None:
    base = ["env", "--stack", PRIMARY, "--key", "sk-x"]
    assert main([*base, "--shell", "fish"]) == 0
    assert f"set -gx ANTHROPIC_BASE_URL '{relay_url}'" in capsys.readouterr().out
    assert main([*base, "--shell", "powershell"]) == 0
    assert "$env:ANTHROPIC_API_KEY = 'sk-x'" in capsys.readouterr().out
    assert main([*base, "--client", "openai"]) == 0
    assert f"export OPENAI_BASE_URL='{relay_url}/v1'" in capsys.readouterr().out


def test_env_writes_claude_code_settings(capsys) -> None:
    args = ["env", "--endpoint", "https://relay.example/prod", "--client", "claude-code"]
    assert main([*args, "--key-helper", "cat ~/.relay-key"]) == 0
    out = capsys.readouterr().out
    settings = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert settings["apiKeyHelper"] == "cat ~/.relay-key"
    assert settings["env"]["ANTHROPIC_BASE_URL"] == "https://relay.example/prod"
    for family in ("OPUS", "SONNET", "HAIKU"):
        assert by_alias(settings["env"][f"ANTHROPIC_DEFAULT_{family}_MODEL"]).served


def test_env_needs_to_know_which_relay(capsys) -> None:
    assert main(["env"]) == 1
    assert "give --endpoint URL, --stack NAME" in capsys.readouterr().err
    assert main(["env", "--local", "--endpoint", "http://x"]) == 2


# cost


def test_cost_of_a_haiku_request(capsys) -> None:
    assert main(["cost", "--model", "claude-haiku-4-5", "--input", "400", "--output", "150"]) == 0
    out = capsys.readouterr().out
    # Beside it, the same request in a batch, at half the price.
    assert re.search(r"^claude-haiku-4-5\s+global\s+\$0\.00115\s+\$0\.000575$", out, re.M), out
    prices = by_alias("claude-haiku-4-5").prices
    assert (
        f"(400 input * ${prices.input} + 150 output * ${prices.output}) / 1,000,000 = $0.00115"
        in out
    )


def test_cost_compares_models_per_month_with_caching_premium_and_batch(capsys) -> None:
    args = ["cost", "--model", "claude-haiku-4-5", "--model", "claude-sonnet-4-6"]
    args += ["--input", "1000", "--output", "500", "--cache-read", "4000", "--cache-write", "2000"]
    args += ["--cache-ttl", "1h", "--routing", "geographic", "--batch", "--per-day", "1000"]
    assert main([*args, "--json"]) == 0
    haiku, sonnet = json.loads(capsys.readouterr().out)
    model = by_alias("claude-haiku-4-5")
    p = model.prices
    tokens = 1000 * p.input + 500 * p.output + 4000 * p.cache_read + 2000 * p.cache_write_1h
    expected = tokens / MILLION * (1 + model.regional_premium) * BATCH_PRICE_FACTOR
    assert Decimal(haiku["per_request_usd"]) == expected
    assert Decimal(haiku["batch_per_request_usd"]) == expected
    assert Decimal(haiku["per_month_usd"]) == expected * 1000 * Decimal(730) / 24
    assert haiku["endpoint"] == "us"
    assert "(us premium) * 0.5 (batch)" in haiku["formula"]
    assert Decimal(sonnet["per_request_usd"]) > Decimal(haiku["per_request_usd"])


def test_cost_states_the_monthly_volume_it_used(capsys) -> None:
    args = ["cost", "--model", "claude-haiku-4-5", "--input", "400", "--output", "150"]
    assert main([*args, "--per-day", "1000"]) == 0
    out = capsys.readouterr().out
    assert "1,000 requests/day * 730 h/24 = 30,417 requests/month" in out
    assert re.search(
        r"^claude-haiku-4-5\s+global\s+\$0\.00115\s+\$0\.000575\s+\$34\.98$", out, re.M
    ), out


def test_cost_of_an_unknown_model_exits_2(capsys) -> None:
    assert main(["cost", "--model", "claude-foo", "--input", "1", "--output", "1"]) == 2
    assert "'claude-foo' is not a catalog model" in capsys.readouterr().err


# doctor


def stubbed_bedrock(region: str, granted: bool) -> Any:
    """moto has no GetFoundationModelAvailability/GetInferenceProfile: a Stubber answers them."""
    client = boto3.client("bedrock", region_name=region)
    stubber = Stubber(client)
    for target in deployment_config(CDK_JSON).primary.targets:
        stubber.add_response(
            "get_foundation_model_availability",
            {
                "modelId": target.model.bedrock_id,
                "agreementAvailability": {"status": "AVAILABLE" if granted else "NOT_AVAILABLE"},
                "authorizationStatus": "AUTHORIZED" if granted else "NOT_AUTHORIZED",
                "entitlementAvailability": "AVAILABLE",
                "regionAvailability": "AVAILABLE",
            },
            {"modelId": target.model.bedrock_id},
        )
        if granted and target.profile:
            stubber.add_response(
                "get_inference_profile",
                {
                    "inferenceProfileName": target.model_id,
                    "inferenceProfileArn": f"arn:aws:bedrock:{region}::inference-profile/x",
                    "models": [{"modelArn": f"arn:aws:bedrock:{region}::foundation-model/x"}],
                    "inferenceProfileId": target.model_id,
                    "status": "ACTIVE",
                    "type": "SYSTEM_DEFINED",
                },
                {"inferenceProfileIdentifier": target.model_id},
            )
    stubber.activate()
    return client


def clients_with(granted: bool) -> Any:
    def clients(service: str, region: str) -> Any:
        if service == "bedrock":
            return stubbed_bedrock(region, granted)
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]

    return clients


def test_doctor_passes_a_ready_account(cloud) -> None:
    config = deployment_config(CDK_JSON)
    checks = run_checks(config, clients_with(granted=True), gcp=False, tooling=False)
    assert [c.line() for c in checks if c.state == "fail"] == []
    names = [c.name for c in checks]
    assert names[:2] == ["credentials", "clock"]
    assert "cdk bootstrap us-east-1" in names
    assert f"health {PRIMARY}" in names
    assert any(n.startswith("bedrock us-east-1 ") for n in names)


def test_doctor_names_each_failure_with_its_fix(cloud) -> None:
    config = deployment_config(CDK_JSON, HONG_KONG_CONTEXT)
    checks = run_checks(config, clients_with(granted=False), gcp=False, tooling=False)
    failed = {c.name: c.line() for c in checks if c.state == "fail"}
    assert failed["region ap-east-1"].endswith(
        "fix: aws account enable-region --region-name ap-east-1"
    )
    assert (
        "fix: npx cdk bootstrap aws://123456789012/ap-east-1" in failed["cdk bootstrap ap-east-1"]
    )
    access = failed[f"bedrock us-east-1 {DEFAULT_MODEL.alias}"]
    assert "model access not granted" in access
    assert "fix: deploy with relaykit.modelAccess.enabled" in access


def test_doctor_exits_with_the_number_of_failures(cloud, capsys) -> None:
    code = main(["doctor", *CONFIG, *HONG_KONG, "--no-gcp", "--endpoint", "http://127.0.0.1:9"])
    out = capsys.readouterr().out
    fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert code == len(fails) > 0
    assert out.rstrip().endswith(f"{len(fails)} failed")
    assert all("; fix: " in line for line in fails)
    assert "FAIL health http://127.0.0.1:9" in out
    assert re.search(r"^ok   node: v\d+", out, re.M), out
    assert re.search(r"^ok   cdk cli: \d+\.\d+", out, re.M), out


def test_doctor_says_the_config_cannot_deploy_yet(cloud, tmp_path, capsys) -> None:
    # cdk.json as shipped names no alarm recipient: synthesis refuses it, and doctor says so.
    code = main(["doctor", *CONFIG, "--no-gcp"])
    out = capsys.readouterr().out
    assert out.startswith("FAIL config: relaykit.alarms.emails: ")
    assert code == out.count("\nFAIL ") + 1


def test_doctor_json_lists_every_check(cloud, capsys) -> None:
    code = main(["doctor", *CONFIG, "--no-gcp", "--json"])
    checks = json.loads(capsys.readouterr().out)
    assert code == sum(1 for c in checks if c["state"] == "fail")
    assert {"name": "credentials", "state": "ok"}.items() <= checks[1].items()


def test_doctor_without_credentials_says_how_to_get_them(no_aws_credentials, capsys) -> None:
    config = deployment_config(CDK_JSON)
    client: Any = boto3.session.Session().client
    checks = run_checks(config, lambda s, r: client(s, region_name=r), gcp=False, tooling=False)
    (check,) = checks
    assert check.line().startswith("FAIL credentials: no AWS credentials found")
