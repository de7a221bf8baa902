"""Synthesise the CDK app once per test session and share its templates.

The session configuration turns on everything (Hong Kong relay, WAF allow-lists, alarm e-mails,
the use-case form) so one synthesis covers every construct; `cdk synth` of the defaults runs in
test_cdk_cli.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_stack_helpers import (
    DEFAULT_OVERRIDES,
    FARGATE_OVERRIDES,
    FULL_OVERRIDES,
    HONG_KONG_OVERRIDES,
    cdk_json_context,
    use_pinned_node,
)

# jsii starts its Node process when aws_cdk is first imported: Node 22 must come first on PATH.
use_pinned_node()

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks.aws.app import Deployment, build  # noqa: E402
from stacks.aws.config import load_config  # noqa: E402


@dataclass
class Synthesis:
    deployment: Deployment
    outdir: Path
    templates: dict[str, dict[str, Any]]
    validation_error: str | None

    def template(self, stack_name: str) -> Template:
        return Template.from_json(self.templates[stack_name])

    def report(self) -> dict[str, Any] | None:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.exists() else None


def synthesize(outdir: Path, overrides: dict[str, Any]) -> Synthesis:
    """Synthesise cdk.json's context with `overrides` (dotted `relaykit.*` keys) into `outdir`."""
    context = {**cdk_json_context(), **overrides}
    app = App(context=context, outdir=str(outdir))
    config = load_config(app.node.get_all_context())
    deployment = build(app, config)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # validation failures; the report says which
        error = str(exc)
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    return Synthesis(deployment, outdir, templates, error)


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), FULL_OVERRIDES)


@pytest.fixture(scope="session")
def default_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """cdk.json's defaults with nothing but the account and the one required e-mail."""
    return synthesize(tmp_path_factory.mktemp("cdk.default"), DEFAULT_OVERRIDES)


@pytest.fixture(scope="session")
def hong_kong_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The defaults plus the Hong Kong relay with what it requires (WAF, a country list)."""
    return synthesize(tmp_path_factory.mktemp("cdk.hongkong"), HONG_KONG_OVERRIDES)


@pytest.fixture(scope="session")
def geographic_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    return synthesize(
        tmp_path_factory.mktemp("cdk.geographic"),
        {**DEFAULT_OVERRIDES, "relaykit.routing": "geographic"},
    )


@pytest.fixture(scope="session")
def fargate_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """One relay, on Fargate, behind the domain's hostname, with WAF on (FARGATE_OVERRIDES)."""
    return synthesize(tmp_path_factory.mktemp("cdk.fargate"), FARGATE_OVERRIDES)
