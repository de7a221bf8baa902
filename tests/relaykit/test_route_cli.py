"""`relaykit route --explain`: a router's decision for a body, offline, with why each rule before
it did not match; the prompt's text never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relaykit.cli import main

ROUTERS = Path(__file__).parents[1] / "fixtures" / "routers.json"


def _body(tmp_path: Path, text: str, **fields: object) -> str:
    path = tmp_path / "body.json"
    messages = [{"role": "user", "content": text}]
    path.write_text(json.dumps({"model": "claude-auto", "max_tokens": 100, "messages": messages,
                                **fields}))  # fmt: skip
    return str(path)


def test_explain_names_the_rule_and_why_the_earlier_ones_missed(tmp_path, capsys) -> None:
    body = _body(tmp_path, "a secret short question")
    assert main(["route", "--explain", body, "--routers", str(ROUTERS)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("route: claude-auto/short -> claude-haiku-4-5")
    assert "tools true" in out  # long-tools missed on tools
    assert "prompt_matches" in out
    assert "secret" not in out


def test_explain_as_json_follows_the_relays_decision(tmp_path, capsys) -> None:
    body = _body(tmp_path, "please refactor this")
    assert main(["route", "--explain", body, "--routers", str(ROUTERS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["route"] == "claude-auto/hard"
    assert [r["verdict"] for r in report["rules"]] == ["no", "match", "not reached"]


def test_routers_come_from_the_environment_without_a_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RELAY_ROUTERS", ROUTERS.read_text())
    assert main(["route", "--explain", _body(tmp_path, "word " * 3000)]) == 0
    assert "route: claude-auto/default -> claude-sonnet-4-5" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("routers", "message"),
    [
        ({"claude-auto": {"default": "claude-nano"}}, "'claude-nano': not a catalog model"),
        ({"claude-auto": {"default": "claude-haiku-4-5", "fallback": 1}}, "unknown field"),
    ],
)
def test_bad_routers_are_refused_naming_the_place(tmp_path, capsys, routers, message) -> None:
    path = tmp_path / "routers.json"
    path.write_text(json.dumps(routers))
    assert main(["route", "--explain", _body(tmp_path, "hi"), "--routers", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_a_body_for_a_model_that_is_no_router_is_refused(tmp_path, capsys) -> None:
    body = tmp_path / "b.json"
    body.write_text(json.dumps({"model": "claude-haiku-4-5", "messages": []}))
    assert main(["route", "--explain", str(body), "--routers", str(ROUTERS)]) == 2
    assert "is not a router; routers: claude-auto" in capsys.readouterr().err
