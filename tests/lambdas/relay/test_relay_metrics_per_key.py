"""The per-key dimension set costs $0.30 a month per key, model and metric: it is opt-in."""

from __future__ import annotations

import json

import pytest

from relay.metrics import emit
from relay.usage import UsageRecord

RECORD = UsageRecord("req-1", "rk_0123456789abcdef", "m", "bedrock", "id", "ok", 10, 5)


def _dimension_sets(out: str) -> list[list[str]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    requests = next(d for d in documents if "Requests" in d)
    sets: list[list[str]] = requests["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    return sets


def test_metrics_carry_only_the_model_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_METRICS_PER_KEY", raising=False)
    emit(RECORD, "claude-haiku-4-5", None, False)
    assert _dimension_sets(capsys.readouterr().out) == [["model"]]


def test_per_key_metrics_are_opt_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_METRICS_PER_KEY", "true")
    emit(RECORD, "claude-haiku-4-5", None, False)
    assert _dimension_sets(capsys.readouterr().out) == [["model"], ["model", "key"]]
