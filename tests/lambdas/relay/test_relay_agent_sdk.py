"""The Claude Agent SDK (PyPI `claude-agent-sdk`, with the Claude Code CLI it bundles) on its
default model, through the relay in front of the simulator."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query
from relay_wire import KEY

from relay.catalog import OPUS_4_6


async def _ask(base_url: str, home: Path, prompt: str) -> list[object]:
    options = ClaudeAgentOptions(
        cwd=str(home),
        max_turns=3,
        # The simulator answers tool calls with placeholder input; nothing may act on it.
        disallowed_tools=["Bash", "Edit", "Write", "NotebookEdit"],
        env={
            "HOME": str(home),
            "PATH": os.environ["PATH"],
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": KEY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        },
    )
    with anyio.fail_after(120):
        return [message async for message in query(prompt=prompt, options=options)]


def test_agent_sdk_on_its_default_model_completes_a_turn(relay, tmp_path) -> None:
    messages = anyio.run(_ask, relay.url, tmp_path, "Say hello")
    result = next(m for m in messages if isinstance(m, ResultMessage))
    assert result.is_error is False, result.result
    assert str(result.result).startswith(f"[simulated {OPUS_4_6.name} ")


def test_agent_sdk_runs_a_tool_and_sends_its_result_back(relay, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("relay notes\n")
    messages = anyio.run(_ask, relay.url, tmp_path, "Read notes.txt")
    result = next(m for m in messages if isinstance(m, ResultMessage))
    assert result.is_error is False, result.result
    assert result.num_turns == 2
    assert "1 tool result" in str(result.result)
