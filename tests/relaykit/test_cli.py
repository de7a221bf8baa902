"""The relaykit console script: the quickstart job, the catalog table and one-line failures."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from relay.catalog import DEFAULT_MODEL, MODELS
from relaykit.cli import main
from relaykit.threaded import wait_until_healthy

RELAYKIT = Path(sys.executable).parent / "relaykit"


def test_local_once_prints_replies_usage_cost_and_the_exports(capsys) -> None:
    assert main(["local", "--once", "--port", "0", "--key", "sk-relay-cli"]) == 0
    out = capsys.readouterr().out
    assert "1. messages.create(" in out
    assert "2. messages.stream(" in out
    assert out.count("[simulated ") == 2
    assert (
        len(re.findall(r"usage: \d+ input, \d+ output, \d+ cache-read tokens; cost \$", out)) == 2
    )
    assert re.search(r"^  export ANTHROPIC_BASE_URL=http://127\.0\.0\.1:\d+$", out, re.M)
    assert "  export ANTHROPIC_API_KEY=sk-relay-cli" in out


def test_local_generates_a_key_when_none_is_given(capsys) -> None:
    assert main(["local", "--once", "--port", "0"]) == 0
    assert re.search(r"ANTHROPIC_API_KEY=sk-relay-\S{20,}", capsys.readouterr().out)


def test_models_lists_every_catalog_model(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for model in MODELS:
        assert model.anthropic_id in out


def test_a_taken_port_fails_with_one_line(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["local", "--once", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"relaykit: error: cannot serve the relay on 127.0.0.1:{port}")


def test_bedrock_without_credentials_fails_with_one_line(capsys, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["local", "--once", "--bedrock", "--port", "0"]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err


def test_bad_arguments_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["local", "--routing", "fastest"])
    assert raised.value.code == 2


def test_serve_runs_the_relay_in_the_foreground(tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    args = [str(RELAYKIT), "serve", "--port", str(port), "--key", "sk-serve"]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
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


def test_serve_refuses_an_alias_flag_without_a_model(capsys) -> None:
    assert main(["serve", "--port", "0", "--alias", "claude-opus-*"]) == 1
    assert "PATTERN=MODEL" in capsys.readouterr().err


def test_models_lists_what_relay_catalog_extra_adds(capsys, monkeypatch) -> None:
    extra = {
        "claude-opus-4-8": {
            "base": "claude-opus-4-6",
            "bedrock_id": "anthropic.claude-opus-4-8",
            "source": "https://example.com/opus-4-8",
        }
    }
    monkeypatch.setenv("RELAY_CATALOG_EXTRA", json.dumps(extra))
    assert main(["models"]) == 0
    assert "anthropic.claude-opus-4-8" in capsys.readouterr().out
