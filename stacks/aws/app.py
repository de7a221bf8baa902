"""The CDK app: reads the configuration once and composes the stacks it describes.

    cdk synth                                   # offline; cdk.json runs `python -m stacks.aws.app`
    cdk deploy --all -c relaykit.hongKong.enabled=true

Stacks: one `BedrockAccess` per Bedrock region the relays call, one `Relay` per relay of
`relaykit.relays` (`Relay-<Name>`; from the earlier blocks `Relay-Primary`, and `Relay-HongKong`
in ap-east-1 when enabled) and one `Observability`, in the first relay's region.
Every stack is checked by cdk-nag's AwsSolutionsChecks at synthesis.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from aws_cdk import App, DefaultStackSynthesizer, Environment, Tags

from stacks.aws.bedrock_access_stack import BedrockAccessStack
from stacks.aws.config import ConfigError, RelayKitConfig, load_config
from stacks.aws.nag import add_checks
from stacks.aws.observability_stack import ObservabilityStack
from stacks.aws.relay_stack import RelayStack


@dataclass
class Deployment:
    """The app and its stacks, by what they hold."""

    app: App
    config: RelayKitConfig
    bedrock_access: dict[str, BedrockAccessStack] = field(default_factory=dict)
    relays: dict[str, RelayStack] = field(default_factory=dict)
    observability: ObservabilityStack | None = None


def build(app: App, config: RelayKitConfig, *, nag: bool = True) -> Deployment:
    """Compose the stacks of `config` into `app`."""
    settings = config.settings
    prefix = settings.prefix

    def synthesizer() -> DefaultStackSynthesizer:
        return DefaultStackSynthesizer(
            generate_bootstrap_version_rule=settings.bootstrap_version_rule
        )

    def env(region: str) -> Environment:
        return Environment(account=config.account, region=region)

    deployment = Deployment(app, config)
    for region in config.bedrock_regions:
        cross_region = any(s.bedrock_region == region and s.region != region for s in config.relays)
        deployment.bedrock_access[region] = BedrockAccessStack(
            app,
            f"{prefix}-BedrockAccess-{region}",
            config=config,
            bedrock_region=region,
            env=env(region),
            synthesizer=synthesizer(),
            cross_region_references=cross_region and settings.guardrail.enabled,
        )
    for site in config.relays:
        access = deployment.bedrock_access[site.bedrock_region]
        deployment.relays[site.name] = RelayStack(
            app,
            f"{prefix}-Relay-{site.stack_label}",
            config=config,
            site=site,
            guardrail=access.guardrail_ref,
            env=env(site.region),
            synthesizer=synthesizer(),
            cross_region_references=site.region != site.bedrock_region
            and settings.guardrail.enabled,
        )
        if access.guardrail is not None:
            deployment.relays[site.name].add_stack_dependency(
                access, "the relay applies this stack's guardrail"
            )
    deployment.observability = ObservabilityStack(
        app,
        f"{prefix}-Observability",
        config=config,
        env=env(config.primary.region),
        synthesizer=synthesizer(),
    )
    Tags.of(app).add("relaykit:deployment", prefix)
    if nag:
        add_checks(app)
    return deployment


def main() -> None:
    app = App()
    try:
        config = load_config(
            app.node.get_all_context(), default_account=os.environ.get("CDK_DEFAULT_ACCOUNT")
        )
    except ConfigError as error:
        print(f"relaykit: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    build(app, config)
    app.synth()


if __name__ == "__main__":
    main()
