"""`relaykit connect`: recorded CDK and Pulumi outputs become the other side's config, which
that side's own config parser then accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relaykit.cli import main
from stacks.aws.config import load_config
from stacks.gcp.config import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connect"
CDK_OUTPUTS = FIXTURES / "cdk-outputs.json"
PULUMI_OUTPUTS = FIXTURES / "pulumi-stack-output.json"
ROLES = [
    "arn:aws:iam::123456789012:role/ClaudeRelay-us-relay-us-east-1",
    "arn:aws:iam::123456789012:role/ClaudeRelay-eu-relay-eu-west-1",
    "arn:aws:iam::123456789012:role/ClaudeRelay-hk-relay-ap-east-1",
]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["connect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_gcp_config_prints_a_pulumi_config_set_per_relay_role(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "gcp-config", str(CDK_OUTPUTS))
    assert code == 0
    assert out.splitlines() == [
        f"pulumi config set --path 'federation.relayRoleArns[{i}]' {arn}"
        for i, arn in enumerate(ROLES)
    ]


def test_gcp_config_as_json_is_a_federation_block_the_gcp_program_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "gcp-config", str(CDK_OUTPUTS), "--json")
    assert code == 0
    block = json.loads(out)
    assert block == {"federation": {"relayRoleArns": ROLES}}
    config = {
        "regions": ["global"],
        "alertEmails": ["oncall@example.com"],
        "budget": {"billingAccount": "01ABCD-23EF45-6789AB", "amount": 100},
        **block,
    }
    federation = parse(config, project="relay-example-123").federation
    assert federation.relay_role_arns == tuple(ROLES)


def test_aws_config_prints_the_vertex_block_with_the_federation_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "aws-config", str(PULUMI_OUTPUTS), "--fallback", "claude-haiku-4-5")
    assert code == 0
    context = json.loads(out)
    recorded = json.loads(PULUMI_OUTPUTS.read_text())
    assert context["relaykit.vertex"] == {
        "project": "relay-example-123",
        "region": "global",
        "credentials": json.loads(recorded["federationCredentialConfig"]),
    }
    assert context["relaykit.fallbacks"] == {"claude-haiku-4-5": ["vertex"]}


def test_aws_config_writes_into_the_cdk_context_and_synthesis_config_reads_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    context_file = tmp_path / "cdk.context.json"
    context_file.write_text(json.dumps({"availability-zones:account=1:region=x": ["a"]}))
    code, out, _ = _run(
        capsys,
        "aws-config",
        str(PULUMI_OUTPUTS),
        "--fallback",
        "claude-haiku-4-5",
        "--write",
        str(context_file),
    )
    assert code == 0
    assert "wrote relaykit.vertex, relaykit.fallbacks" in out
    written: dict[str, Any] = json.loads(context_file.read_text())
    assert "availability-zones:account=1:region=x" in written
    cdk_json = json.loads((FIXTURES.parents[2] / "cdk.json").read_text())["context"]
    config = load_config(
        {
            **cdk_json,
            **written,
            "relaykit.models": "claude-haiku-4-5",
            "relaykit.alarms.emails": '["ops@example.com"]',
        }
    )
    env = config.failover_environment
    assert env["RELAY_VERTEX_PROJECT"] == "relay-example-123"
    assert json.loads(env["RELAY_FALLBACKS"]) == {"claude-haiku-4-5": ["vertex"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gcp-config", "missing.json"], "CDK_OUTPUTS missing.json: cannot read it"),
        (["gcp-config", str(PULUMI_OUTPUTS)], "no relay stack with a RelayRoleArn output"),
        (["aws-config", str(CDK_OUTPUTS)], "the Pulumi outputs lack project, region"),
    ],
)
def test_wrong_files_are_refused_saying_which_file_to_give(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _run(capsys, *args)
    assert code == 1
    assert message in err
