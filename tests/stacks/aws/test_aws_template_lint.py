"""cfn-lint and checkov on every synthesised variant (default, Hong Kong with everything on,
geographic routing, the primary relay on Fargate): no findings; skipped checks have reasons.
The tools are shown to report a deliberately bad template, and a tool that fails is a failing
test."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from lint_tools import ToolFailed, cfn_lint_findings, checkov_failures, parse_report

BAD_TEMPLATES = Path(__file__).parent / "fixtures" / "bad"
VARIANTS = ("default_synthesis", "synthesis", "geographic_synthesis", "fargate_synthesis")

# cfn-lint rules skipped, each with its reason.
CFN_LINT_SKIPPED = {
    # CDK adds DependsOn from a function to its role's default policy on purpose (the policy
    # must exist before the function runs), although the GetAtt on the role already orders them.
    "W3005": "CDK's deliberate DependsOn on the role's default policy",
}
# checkov checks skipped, each with its reason.
CHECKOV_SKIPPED = {
    # The relay's is asserted in test_aws_stacks.py.
    "CKV_AWS_115": "Only the relay has reserved concurrency; the authorizer, the usage replay, "
    "the custom resources and CDK's export reader/writer run for moments, and reserving for "
    "them would take concurrency from every other function in the account",
    "CKV_AWS_116": "Functions are invoked synchronously (API Gateway, CloudFormation) or, the "
    "usage replay, by a schedule whose failed run leaves the records on their queue (with its "
    "own dead-letter queue) for the next: no DLQ",
    "CKV_AWS_117": "Functions call public AWS endpoints only; a VPC adds NAT cost, no isolation",
    "CKV_AWS_119": "Tables use DynamoDB's AWS-owned encryption; a CMK adds cost, no control",
    "CKV_AWS_120": "Responses stream per request; API Gateway caching does not apply",
    "CKV_AWS_158": "Log groups use CloudWatch Logs' own encryption; a CMK is opt-in (its price)",
    "CKV_AWS_173": "Function environments hold names and ids, no secrets",
    "CKV_AWS_192": "The relay is Python behind API keys; no Log4j to shield",
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_cfn_lint_finds_nothing_in_any_variant(variant: str, request: Any) -> None:
    synthesis = request.getfixturevalue(variant)
    templates = sorted(synthesis.outdir.glob("*.template.json"))
    assert cfn_lint_findings(templates, CFN_LINT_SKIPPED) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_checkov_passes_every_template_of_every_variant(variant: str, request: Any) -> None:
    synthesis = request.getfixturevalue(variant)
    assert checkov_failures(synthesis.outdir, CHECKOV_SKIPPED) == []


def test_cfn_lint_reports_the_bad_template() -> None:
    findings = cfn_lint_findings(sorted(BAD_TEMPLATES.glob("*.template.json")), CFN_LINT_SKIPPED)
    assert any(f.startswith("E3002 bad.template.json") for f in findings), findings


def test_checkov_reports_the_bad_template() -> None:
    failures = checkov_failures(BAD_TEMPLATES, CHECKOV_SKIPPED)
    assert "CKV_AWS_53 bad.template.json AWS::S3::Bucket.OpenBucket" in failures, failures


def test_checkov_that_checked_nothing_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "empty.template.json").write_text("{}")
    with pytest.raises(ToolFailed, match="checked nothing"):
        checkov_failures(tmp_path, CHECKOV_SKIPPED)


def test_a_tool_that_crashed_without_a_report_is_a_failure() -> None:
    # What `python -m cfnlint` did: exit 1, nothing on stdout.
    crashed = subprocess.CompletedProcess(
        ["cfn-lint"], 1, stdout="", stderr="No module named cfnlint.__main__"
    )
    with pytest.raises(ToolFailed, match="without a JSON report"):
        parse_report("cfn-lint", crashed)
