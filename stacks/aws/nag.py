"""cdk-nag 3: AwsSolutionsChecks runs as a CDK validation plugin, findings are acknowledged with
`Validations.of(construct).acknowledge(...)`, each with the reason next to it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def acknowledge(construct: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge findings (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct` and below."""
    if len(reason) < 20:
        raise ValueError("an acknowledgement needs a real reason")
    Validations.of(construct).acknowledge(*(Acknowledgment(id=r, reason=reason) for r in rule_ids))


def add_checks(app: App) -> None:
    """Run AwsSolutionsChecks over every stack of `app` at synthesis; findings fail `cdk synth`."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
