"""The real CDK CLI (pinned in package.json, on the pinned Node 22) synthesises the defaults
offline: the command the deploy guide starts with."""

from __future__ import annotations

import json
import os
import subprocess
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
