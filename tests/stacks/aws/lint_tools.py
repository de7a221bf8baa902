"""cfn-lint and checkov, run as the tools they are, read strictly: a tool that crashed, printed
nothing or checked nothing is an error, never "no findings"."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aws_stack_helpers import BOOTSTRAP_HINT, REPO_ROOT

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"


class ToolFailed(AssertionError):
    """The tool did not produce a report we can trust."""


def parse_report(tool: str, result: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ToolFailed(
            f"{tool} exited {result.returncode} without a JSON report:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        ) from None


def cfn_lint_findings(templates: Iterable[Path], ignored: Mapping[str, str]) -> list[str]:
    """cfn-lint's findings on `templates` as 'RULE file: message'; ToolFailed if it failed."""
    paths = [str(p) for p in templates]
    if not paths:
        raise ToolFailed("no templates to lint")
    if not CFN_LINT.exists():
        raise ToolFailed(f"{CFN_LINT} is missing: {BOOTSTRAP_HINT}")
    command = [str(CFN_LINT), "--format", "json"]
    if ignored:
        command += ["--ignore-checks", *ignored]
    result = subprocess.run(
        [*command, "--", *paths], capture_output=True, text=True, check=False, timeout=600
    )
    findings = parse_report("cfn-lint", result)
    if not isinstance(findings, list):
        raise ToolFailed(f"cfn-lint printed {type(findings).__name__}, not a list of findings")
    # cfn-lint exits 0 exactly when it found nothing (2, 4, 8: errors, warnings, informational).
    if (result.returncode == 0) != (not findings):
        raise ToolFailed(f"cfn-lint exited {result.returncode} with {len(findings)} findings")
    return [
        f"{f['Rule']['Id']} {Path(f['Filename'] or '?').name}: {f['Message']}" for f in findings
    ]


def checkov_failures(directory: Path, skipped: Mapping[str, str]) -> list[str]:
    """checkov's failed checks on the templates in `directory` as 'CHECK file resource'."""
    templates = sorted(p.name for p in directory.glob("*.template.json"))
    if not templates:
        raise ToolFailed(f"no templates in {directory}")
    if not CHECKOV.exists():
        raise ToolFailed(f"{CHECKOV} is missing: {BOOTSTRAP_HINT} (it installs tools/checkov)")
    command = [
        str(CHECKOV),
        # Not --quiet: it drops the passed checks, which show that each template was checked.
        "--compact",
        "--skip-download",
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--directory",
        str(directory),
    ]
    if skipped:
        command += ["--skip-check", ",".join(skipped)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    parsed = parse_report("checkov", result)
    reports: list[dict[str, Any]] = parsed if isinstance(parsed, list) else [parsed]
    checked: set[str] = set()
    failed: list[str] = []
    for report in reports:
        summary = report.get("summary", {})
        if summary.get("parsing_errors"):
            raise ToolFailed(f"checkov could not parse {summary['parsing_errors']} template(s)")
        results = report.get("results", {})
        for outcome in ("passed_checks", "failed_checks"):
            checked |= {Path(c["file_path"]).name for c in results.get(outcome, [])}
        failed += [
            f"{c['check_id']} {Path(c['file_path']).name} {c['resource']}"
            for c in results.get("failed_checks", [])
        ]
    # A template may hold only types checkov has no checks for (budgets, a dashboard), but a
    # run that checked none of them did not run.
    if not checked & set(templates):
        raise ToolFailed(f"checkov checked nothing in {directory} (exit {result.returncode})")
    # checkov exits 1 exactly when a check failed.
    if (result.returncode == 0) != (not failed):
        raise ToolFailed(f"checkov exited {result.returncode} with {len(failed)} failed checks")
    return failed
