"""The stack outputs `relaykit status`, `invoke`, `env`, `keys --stack` and `doctor` read are the
ones the CDK app declares (their tests create moto stacks with these names)."""

from __future__ import annotations

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
