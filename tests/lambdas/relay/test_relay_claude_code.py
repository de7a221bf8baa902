"""The Claude Code CLI (from npm, pinned in package.json) against the relay, in `-p` mode."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from relay_wire import KEY

from relay.catalog import DEFAULT_MODEL

ROOT = Path(__file__).parents[3]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"


@pytest.fixture(scope="module")
def claude() -> Path:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: run scripts/bootstrap.sh (it runs npm ci)")
    return CLAUDE


def run_claude(claude: Path, base_url: str, home: Path, *args: str) -> dict[str, object]:
    env = {
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": KEY,
        # No telemetry, update checks or other calls beyond the base URL.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    done = subprocess.run(
        [str(claude), "-p", *args, "--output-format", "json", "--max-turns", "3"],
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


# The simulator answers tool calls with placeholder input; nothing may act on it.
NO_WRITES = ("--disallowedTools", "Bash,Edit,Write,NotebookEdit")


def test_claude_code_completes_a_prompt_through_the_relay(claude, relay, tmp_path) -> None:
    result = run_claude(
        claude, relay.url, tmp_path, "Say hello", "--model", DEFAULT_MODEL.alias, *NO_WRITES
    )
    assert result["is_error"] is False
    assert str(result["result"]).startswith("[simulated ")
    stats = relay.simulator.state.stats.snapshot()
    assert stats["operations"]["InvokeModelWithResponseStream"]["total"] == 1
    assert stats["errors"] == {}


def test_claude_code_runs_a_tool_and_sends_its_result_back(claude, relay, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("relay notes\n")
    result = run_claude(
        claude,
        relay.url,
        tmp_path,
        "Read notes.txt",
        "--model",
        DEFAULT_MODEL.alias,
        *NO_WRITES,
    )
    assert result["is_error"] is False
    assert result["num_turns"] == 2
    assert "1 tool result" in str(result["result"])
