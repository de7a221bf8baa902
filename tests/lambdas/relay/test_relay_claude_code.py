"""The Claude Code CLI (from npm, pinned in package.json) against the relay, in `-p` mode: on its
own default model, on its short names, and through `relaykit serve --backend simulator`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from relay_wire import KEY

from relay.catalog import DEFAULT_MODEL, HAIKU_4_5, OPUS_4_6, SONNET_4_6

ROOT = Path(__file__).parents[3]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"
RELAYKIT = Path(sys.executable).parent / "relaykit"


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


def test_claude_code_on_its_default_model_is_served_by_the_newest_opus(
    claude, relay, tmp_path
) -> None:
    # No --model: Claude Code asks for its own default Opus, which this region does not serve,
    # and sends its environment as a mid-conversation system message.
    result = run_claude(claude, relay.url, tmp_path, "Say hello", *NO_WRITES)
    assert result["is_error"] is False, result["result"]
    assert str(result["result"]).startswith(f"[simulated {OPUS_4_6.name} ")
    assert relay.simulator.state.stats.snapshot()["errors"] == {}


@pytest.mark.parametrize(("short", "model"), [("opus", OPUS_4_6), ("sonnet", SONNET_4_6)])
def test_claude_code_short_model_names_are_served_by_their_family(
    claude, relay, tmp_path, short, model
) -> None:
    result = run_claude(claude, relay.url, tmp_path, "Say hello", "--model", short, *NO_WRITES)
    assert result["is_error"] is False, result["result"]
    assert str(result["result"]).startswith(f"[simulated {model.name} ")


def test_claude_code_on_its_default_model_runs_a_tool_round_trip(claude, relay, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("relay notes\n")
    result = run_claude(claude, relay.url, tmp_path, "Read notes.txt", *NO_WRITES)
    assert result["is_error"] is False, result["result"]
    assert result["num_turns"] == 2
    assert "1 tool result" in str(result["result"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def relaykit_serve(tmp_path_factory) -> Iterator[str]:
    """`relaykit serve --backend simulator`, as a user starts it, on a loopback port."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w+")
    command = [str(RELAYKIT), "serve", "--backend", "simulator", "--port", str(port)]
    server = subprocess.Popen([*command, "--key", KEY], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"relaykit serve did not start: {log.read()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_claude_code_without_flags_through_relaykit_serve(claude, relaykit_serve, tmp_path) -> None:
    result = run_claude(claude, relaykit_serve, tmp_path, "Say hello", *NO_WRITES)
    assert result["is_error"] is False, result["result"]
    assert str(result["result"]).startswith(f"[simulated {OPUS_4_6.name} ")


def test_claude_code_haiku_and_a_tool_through_relaykit_serve(
    claude, relaykit_serve, tmp_path
) -> None:
    (tmp_path / "notes.txt").write_text("relay notes\n")
    result = run_claude(
        claude, relaykit_serve, tmp_path, "Read notes.txt", "--model", "haiku", *NO_WRITES
    )
    assert result["is_error"] is False, result["result"]
    assert result["num_turns"] == 2
    assert str(result["result"]).startswith(f"[simulated {HAIKU_4_5.name} ")
