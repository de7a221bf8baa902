"""The relaykit console script: quickstart, serve, simulator, help and one-line errors."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from relay.catalog import DEFAULT_MODEL, MODELS
from relaykit.cli import main
from relaykit.threaded import wait_until_healthy

RELAYKIT = Path(sys.executable).parent / "relaykit"
ENV = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RELAYKIT), *args], env=ENV, capture_output=True, text=True, timeout=timeout
    )


def test_local_once_reports_each_step_then_the_demo_and_says_it_stopped(capsys) -> None:
    assert main(["local", "--once", "--port", "0", "--key", "sk-relay-cli"]) == 0
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("... ")]
    assert len(steps) >= 4, out
    assert out.index(steps[-1]) < out.index("Relay:   http://127.0.0.1:")
    assert "1. messages.create(" in out
    assert "2. messages.stream(" in out
    assert out.count("[simulated ") == 2
    assert (
        len(re.findall(r"usage: \d+ input, \d+ output, \d+ cache-read tokens; cost \$", out)) == 2
    )
    assert "Stopped: --once ends here" in out
    # The relay is gone: no line tells clients to point at it.
    assert "Point any Anthropic client" not in out
    assert "export ANTHROPIC_BASE_URL" not in out


def test_local_issues_a_key_with_limits_and_prints_the_table_endpoint(capsys) -> None:
    assert main(["local", "--once", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^Key:     rk_\w+ issued to 'quickstart' \(60 requests/min", out, re.M)
    assert re.search(
        r"^  relaykit keys list --table claude-relay-local --endpoint-url http://127\.0\.0\.1:\d+ "
        r"--region us-east-1$",
        out,
        re.M,
    )


def test_local_on_a_taken_port_fails_at_once_with_a_port_hint_and_issues_no_key(
    capsys, taken_port: int
) -> None:
    assert main(["local", "--once", "--port", str(taken_port)]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"relaykit: error: cannot serve the relay on 127.0.0.1:{taken_port}")
    assert "--port" in err
    assert captured.out == ""


def test_bedrock_without_credentials_fails_with_one_line(capsys, no_aws_credentials) -> None:
    assert main(["local", "--once", "--bedrock", "--port", "0"]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err


def test_an_unknown_choice_exits_2_listing_the_choices(capsys) -> None:
    assert main(["local", "--routing", "fastest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("relaykit: error: ")
    assert "'--routing'" in err
    for choice in ("global", "geographic", "in-region"):
        assert choice in err


def test_a_region_bedrock_does_not_serve_names_the_region_flag(capsys) -> None:
    assert main(["serve", "--region", "mars-1", "--port", "0"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0
    assert err.startswith("relaykit: error: --region mars-1: ")
    assert len(err) < 200
    assert "RELAY_" not in err
    assert captured.out == ""


def test_simulator_refuses_a_port_out_of_range(capsys) -> None:
    assert main(["simulator", "--port", "99999"]) == 2
    err = capsys.readouterr().err
    assert "'--port'" in err
    assert "65535" in err


def test_simulator_on_a_taken_port_prints_one_line_and_no_banner(capsys, taken_port) -> None:
    assert main(["simulator", "--port", str(taken_port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.count("\n") == 0
    assert err.startswith(
        f"relaykit: error: cannot serve the Bedrock simulator on 127.0.0.1:{taken_port}"
    )
    assert "--port" in err


def test_serve_on_a_taken_port_prints_one_line_and_no_banner_or_key(taken_port: int) -> None:
    done = run("serve", "--port", str(taken_port))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith(
        f"relaykit: error: cannot serve the relay on 127.0.0.1:{taken_port}"
    )
    assert "--port" in done.stderr


def test_serve_on_an_unknown_host_names_the_host_flag() -> None:
    done = run("serve", "--host", "no-such-host.invalid", "--port", "0")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("relaykit: error: cannot serve the relay on no-such-host.invalid")
    assert "--host" in done.stderr


def test_serve_issues_a_key_with_limits_that_relaykit_keys_can_read() -> None:
    port = free_port()
    args = [str(RELAYKIT), "serve", "--port", str(port), "--key-limits", "rpm=7,daily-usd=2"]
    with subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline()]
            while "ANTHROPIC_API_KEY=" not in lines[-1] and lines[-1]:
                lines.append(proc.stdout.readline())
            wait_until_healthy(f"http://127.0.0.1:{port}", proc)  # type: ignore[arg-type]
            keys_line = next(line for line in lines if line.startswith("  relaykit keys list"))
            secret = next(line for line in lines if "ANTHROPIC_API_KEY=" in line).split("=", 1)[1]
            client = anthropic.Anthropic(
                base_url=f"http://127.0.0.1:{port}", api_key=secret.strip(), max_retries=0
            )
            client.messages.create(
                model=DEFAULT_MODEL.alias,
                max_tokens=20,
                messages=[{"role": "user", "content": "hi"}],
            )
            listed = subprocess.run(
                [str(RELAYKIT), *shlex.split(keys_line)[1:], "--json"],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    (key,) = json.loads(listed.stdout)
    assert (key["owner"], key["rpm"], key["daily_usd"]) == ("serve", 7, "2")
    assert key["last_used"] is not None


def test_serve_refuses_unknown_key_limits(capsys) -> None:
    assert main(["serve", "--key-limits", "rps=3"]) == 2
    assert "rpm, tpm, daily-usd, monthly-usd" in capsys.readouterr().err


def test_serve_runs_the_relay_with_a_fixed_key() -> None:
    port = free_port()
    args = [str(RELAYKIT), "serve", "--port", str(port), "--key", "sk-serve"]
    with subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, proc)
            client = anthropic.Anthropic(base_url=url, api_key="sk-serve", max_retries=0)
            reply = client.messages.create(
                model=DEFAULT_MODEL.alias,
                max_tokens=20,
                messages=[{"role": "user", "content": "hi"}],
            )
            assert reply.model == DEFAULT_MODEL.anthropic_id
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"relaykit \d+\.\d+\.\d+\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    "command",
    [
        ["local"],
        ["serve"],
        ["simulator"],
        ["models"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "update"],
        ["usage"],
        ["status"],
        ["invoke"],
        ["env"],
        ["cost"],
        ["doctor"],
        ["connect", "gcp-config"],
        ["connect", "aws-config"],
    ],
)
def test_each_command_has_a_description_and_an_example(capsys, command: list[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1].strip()
    assert len(description) > 20
    assert "Example: relaykit " + command[0] in " ".join(out.split())


def test_help_shows_each_default_value(capsys) -> None:
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for default in ("[default: 127.0.0.1]", "[default: 8787;", "[default: simulator]"):
        assert default in out


def test_models_fits_100_columns(capsys) -> None:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0].split()[0] == "alias"
    # One unbroken row per model.
    assert [line.split()[0] for line in lines[1:]] == [m.alias for m in MODELS]


def test_models_wide_and_json_carry_every_id(capsys) -> None:
    assert main(["models", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    for model, entry in zip(MODELS, listed, strict=True):
        assert model.bedrock_id in wide
        assert entry["bedrock_id"] == model.bedrock_id
        assert entry["usd_per_mtok"]["input"] == str(model.prices.input)


def test_shell_completion_completes_commands_and_choices() -> None:
    script = run("--show-completion", "bash")
    assert script.returncode == 0
    assert "_RELAYKIT_COMPLETE=complete_bash" in script.stdout
    words = subprocess.run(
        [str(RELAYKIT)],
        env={
            **ENV,
            "_RELAYKIT_COMPLETE": "complete_bash",
            "COMP_WORDS": "relaykit local --routing ",
            "COMP_CWORD": "3",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert words.stdout.split() == ["global", "geographic", "in-region"]


def test_debug_shows_the_traceback(capsys) -> None:
    assert main(["--debug", "serve", "--region", "mars-1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("relaykit: error: --region mars-1")


def test_serve_refuses_an_alias_flag_without_a_model(capsys) -> None:
    assert main(["serve", "--port", "0", "--alias", "claude-opus-*"]) == 1
    assert "PATTERN=MODEL" in capsys.readouterr().err
