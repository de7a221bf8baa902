"""The suite-wide log scan can fail: a run whose logs carry a declared secret fails, one whose
logs do not passes (each in a pytest subprocess, so this run's own scan stays clean)."""

from __future__ import annotations

from pathlib import Path

import pytest

SECRET = "prompt-canary-7f3a"

LEAKING = f"""
import logging

def test_leaks(log_scan):
    log_scan.forbid("{SECRET}")
    logging.getLogger("claude-relay").warning("forwarding", extra={{"text": "{SECRET}"}})
"""

CLEAN = f"""
import logging

def test_logs_ids_only(log_scan):
    log_scan.forbid("{SECRET}")
    logging.getLogger("claude-relay").warning("forwarding", extra={{"request_id": "req_1"}})
"""


@pytest.fixture
def scanned(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    return pytester


def test_a_logged_secret_fails_the_run(scanned: pytest.Pytester) -> None:
    scanned.makepyfile(LEAKING)
    result = scanned.runpytest_subprocess("-p", "log_scan", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*log scan: a secret (prom...) was logged*"])
    # The test itself passed: only the scan failed the run.
    result.assert_outcomes(passed=1)


def test_a_run_without_secrets_in_its_logs_passes(scanned: pytest.Pytester) -> None:
    scanned.makepyfile(CLEAN)
    result = scanned.runpytest_subprocess("-p", "log_scan", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
