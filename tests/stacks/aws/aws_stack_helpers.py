"""Constants and helpers shared by the AWS stack tests (imported by conftest and tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from relay.catalog import DEFAULT_MODEL

REPO_ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
PREFIX = "ClaudeRelay"
RELAY_PRIMARY = f"{PREFIX}-Relay-Primary"
RELAY_HONG_KONG = f"{PREFIX}-Relay-HongKong"
OBSERVABILITY = f"{PREFIX}-Observability"


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


DEFAULT_OVERRIDES: dict[str, Any] = {
    "relaykit.account": ACCOUNT,
    "relaykit.alarms.emails": '["ops@example.com"]',
}
HONG_KONG_OVERRIDES: dict[str, Any] = {
    **DEFAULT_OVERRIDES,
    "relaykit.hongKong.enabled": "true",
    "relaykit.waf.enabled": "true",
    "relaykit.waf.allowedCountries": '["HK"]',
}
CERTIFICATE_ARN = (
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
)
# The relay list with one relay on Fargate, sized by its own `fargate` block (HTTPS with a
# certificate of its own), behind `relaykit.domain`'s hostname, with WAF on its load balancer.
FARGATE_ZONE = {"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"}
FARGATE_HOSTNAME = "claude.example.com"
FARGATE_OVERRIDES: dict[str, Any] = {
    **DEFAULT_OVERRIDES,
    "relaykit.relays": json.dumps(
        [
            {
                "name": "primary",
                "region": "us-east-1",
                "compute": "fargate",
                "fargate": {"certificateArn": CERTIFICATE_ARN},
            }
        ]
    ),
    "relaykit.domain": json.dumps({"name": FARGATE_HOSTNAME, **FARGATE_ZONE}),
    "relaykit.waf.enabled": "true",
}
FULL_OVERRIDES: dict[str, Any] = {
    "relaykit.account": ACCOUNT,
    "relaykit.hongKong.enabled": "true",
    "relaykit.guardrail.enabled": "true",
    "relaykit.applicationProfiles.enabled": "true",
    "relaykit.encryption.customerManagedKeys": "true",
    "relaykit.waf.enabled": "true",
    "relaykit.alarms.emails": '["ops@example.com"]',
    "relaykit.waf.allowedCountries": '["HK", "SG"]',
    "relaykit.waf.allowedCidrs": '["203.0.113.0/24", "2001:db8::/32"]',
    "relaykit.routers": json.dumps({"claude-auto": {"default": DEFAULT_MODEL.alias}}),
    "relaykit.budgetDowngrade": DEFAULT_MODEL.alias,
    "relaykit.modelAccess.useCase": json.dumps(
        {
            "companyName": "Example Ltd",
            "companyWebsite": "https://example.com",
            "intendedUsers": "0",
            "industryOption": "Technology",
            "otherIndustryOption": "",
            "useCases": "Internal assistant",
        }
    ),
}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
BOOTSTRAP_HINT = "run scripts/bootstrap.sh (npm ci installs the pinned Node 22 and CDK CLI)"


def use_pinned_node() -> None:
    """Put the pinned Node 22 and CDK CLI first on PATH for jsii and `cdk`; fail if missing."""
    node = NODE_BIN / "node"
    if not node.exists() or not (NODE_BIN / "cdk").exists():
        raise RuntimeError(f"{node} or the CDK CLI is missing: {BOOTSTRAP_HINT}")
    version = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not version.startswith("v22."):
        raise RuntimeError(f"{node} is {version}, not Node 22: {BOOTSTRAP_HINT}")
    path = os.environ.get("PATH", "")
    if not path.startswith(str(NODE_BIN)):
        os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{path}"
    assert shutil.which("node") == str(node)
