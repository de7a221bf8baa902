"""The real CDK CLI (pinned in package.json, on the pinned Node 22) synthesises the defaults
offline: the command the deploy guide starts with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aws_stack_helpers import NODE_BIN, PREFIX, REPO_ROOT, use_pinned_node


def offline_env(**extra: str) -> dict[str, str]:
    """No credentials, no metadata service: the CLI must not reach for an account."""
    use_pinned_node()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        CDK_DISABLE_VERSION_CHECK="1",
        CI="true",
        **extra,
    )
    return env


def test_cdk_synth_of_the_defaults_with_a_recipient_works_offline(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(NODE_BIN / "cdk"),
            "synth",
            "--quiet",
            "--no-notices",
            "--output",
            str(tmp_path),
            "-c",
            'relaykit.alarms.emails=["ops@example.com"]',
        ],
        cwd=REPO_ROOT,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Node 20 is end-of-life" not in result.stderr
    stacks = {p.name.removesuffix(".template.json") for p in tmp_path.glob("*.template.json")}
    assert stacks == {
        f"{PREFIX}-BedrockAccess-us-east-1",
        f"{PREFIX}-Relay-Primary",
        f"{PREFIX}-Observability",
    }
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"][f"{PREFIX}-Relay-Primary"]["environment"].startswith("aws://")


def test_cdk_in_python_runs_on_the_pinned_node_whatever_node_is_on_path() -> None:
    # A fresh machine's `node` is Node 20 (end-of-life: jsii warns on stderr at every import);
    # stacks.aws points jsii at the bootstrap's Node 22.
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != str(NODE_BIN))
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"} | {"PATH": path}
    probe = "import os, stacks.aws, aws_cdk; print(os.environ['JSII_NODE'])"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == str(NODE_BIN / "node")
    assert result.stderr == ""
