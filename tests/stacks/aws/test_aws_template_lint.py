"""cfn-lint and checkov on every synthesised template: zero errors; skipped checks have reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from aws_stack_helpers import BOOTSTRAP_HINT, REPO_ROOT

# cfn-lint rules skipped, each with its reason.
CFN_LINT_SKIPPED = {
    # CDK adds DependsOn from a function to its role's default policy on purpose (the policy
    # must exist before the function runs), although the GetAtt on the role already orders them.
    "W3005": "CDK's deliberate DependsOn on the role's default policy",
}
# checkov checks skipped, each with its reason.
CHECKOV_SKIPPED = {
    "CKV_AWS_115": "Concurrency is bounded by the usage plan throttle, not reserved concurrency",
    "CKV_AWS_116": "Functions are invoked synchronously (API Gateway, CloudFormation): no DLQ",
    "CKV_AWS_117": "Functions call public AWS endpoints only; a VPC adds NAT cost, no isolation",
    "CKV_AWS_119": "Tables use DynamoDB's AWS-owned encryption; a CMK adds cost, no control",
    "CKV_AWS_120": "Responses stream per request; API Gateway caching does not apply",
    "CKV_AWS_158": "Function and access logs hold no prompts; the invocation log uses a CMK",
    "CKV_AWS_173": "Function environments hold names and ids, no secrets",
    "CKV_AWS_192": "The relay is Python behind API keys; no Log4j to shield",
}


def test_cfn_lint_finds_no_errors_or_warnings(synthesis: Any) -> None:
    templates = sorted(str(p) for p in synthesis.outdir.glob("*.template.json"))
    assert templates
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "json",
            "--ignore-checks",
            *CFN_LINT_SKIPPED,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert [(f["Rule"]["Id"], f["Message"]) for f in findings] == []


def test_checkov_passes_every_template(synthesis: Any) -> None:
    checkov = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if not checkov.exists():
        pytest.fail(f"{checkov} is missing: {BOOTSTRAP_HINT} (it installs tools/checkov)")
    result = subprocess.run(
        [
            str(checkov),
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-check",
            ",".join(CHECKOV_SKIPPED),
            "--directory",
            str(synthesis.outdir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (c["check_id"], c["file_path"], c["resource"])
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
