"""The stack outputs `relaykit status`, `invoke`, `env`, `keys --stack` and `doctor` read are the
ones the CDK app declares (their tests create moto stacks with these names); `relaykit cost`
prices the synthesis's infrastructure."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from relaykit.stack_outputs import OBSERVABILITY_OUTPUTS, RELAY_OUTPUTS


def test_every_relay_stack_declares_the_outputs_relaykit_reads(synthesis: Any) -> None:
    relays = [name for name in synthesis.templates if "-Relay-" in name]
    assert relays
    for name in relays:
        outputs = synthesis.templates[name]["Outputs"]
        assert set(RELAY_OUTPUTS) <= set(outputs), name


def test_the_observability_stack_declares_its_dashboard(synthesis: Any) -> None:
    outputs = synthesis.templates["ClaudeRelay-Observability"]["Outputs"]
    assert set(OBSERVABILITY_OUTPUTS) <= set(outputs)


def test_cost_adds_the_infrastructure_of_the_synthesis(synthesis: Any, capsys) -> None:
    from relaykit.cli import main
    from stacks.aws.infra_cost import estimate, read_templates

    priced = estimate(read_templates(synthesis.outdir))
    per_request = max(e.per_request_usd for e in priced.values())
    idle = sum(e.idle_usd for e in priced.values())
    args = ["cost", "--model", "claude-haiku-4-5", "--input", "400", "--output", "150"]
    assert main([*args, "--per-month", "1000", "--templates", str(synthesis.outdir), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert Decimal(row["infra_per_request_usd"]) == per_request > 0
    assert Decimal(row["infra_idle_month_usd"]) == idle
    expected = (Decimal(row["per_request_usd"]) + per_request) * 1000 + idle
    assert Decimal(row["per_month_usd"]) == expected
