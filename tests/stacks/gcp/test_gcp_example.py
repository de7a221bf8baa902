"""Pulumi.example.yaml documents every key, and the program accepts it as it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stacks.gcp.config import KNOWN_KEYS, NAMESPACE, parse

ROOT = Path(__file__).resolve().parents[3]


def _example() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.example.yaml").read_text())["config"]
    return config


def test_example_config_parses() -> None:
    config = _example()
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{NAMESPACE}:")}
    assert parse(raw, project=config["gcp:project"]).project == config["gcp:project"]


def test_example_shows_every_key() -> None:
    shown = {k.split(":", 1)[1] for k in _example() if k.startswith(f"{NAMESPACE}:")}
    assert shown == set(KNOWN_KEYS)


def test_project_file_names_the_config_namespace_and_program() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == NAMESPACE
    assert project["main"] == "stacks/gcp"
    assert (ROOT / project["main"] / "__main__.py").is_file()
