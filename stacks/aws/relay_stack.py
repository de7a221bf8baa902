"""A relay deployment in one region (the Hong Kong relay is one): the relay and its alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from constructs import Construct

from stacks.aws.config import HONG_KONG, OPT_IN_REGIONS, RelayKitConfig, RelaySite
from stacks.aws.constructs.alarms import RelayAlarms, RelayAlarmsProps
from stacks.aws.constructs.batches import RelayBatches, RelayBatchesProps
from stacks.aws.constructs.global_endpoint import (
    GlobalEndpoint,
    GlobalEndpointProps,
    api_gateway_target,
)
from stacks.aws.constructs.relay import GuardrailRef, Relay, RelayProps


class RelayStack(Stack):
    """Composes `relay` and `alarms` for `site`; its outputs say how to call it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RelayKitConfig,
        site: RelaySite,
        guardrail: GuardrailRef | None,
        **kwargs: Any,
    ) -> None:
        note = (
            " (an opt-in region: enable it in the account first)"
            if site.region in OPT_IN_REGIONS
            else ""
        )
        where = "Hong Kong" if site.region == HONG_KONG else site.region
        super().__init__(
            scope,
            construct_id,
            description=(
                f"Claude relay in {where}{note}, calling Bedrock in {site.bedrock_region}"
            ),
            **kwargs,
        )
        account = config.account or self.account
        self.relay = Relay(
            self,
            "Relay",
            RelayProps(
                site=site,
                settings=config.settings,
                account=account,
                guardrail=guardrail,
                failover_environment=config.failover_environment,
            ),
        )
        self.batches = (
            RelayBatches(
                self,
                "Batches",
                RelayBatchesProps(site, account, self.relay.function.function),
            )
            if config.settings.batches.enabled
            else None
        )
        self.alarms = RelayAlarms(
            self,
            "Alarms",
            RelayAlarmsProps(
                site=site,
                settings=config.settings,
                relay_function=self.relay.function.function,
                authorizer_function=self.relay.authorizer_function.function,
                usage_table=self.relay.usage_table,
                usage_spool=self.relay.usage_spool.queue,
                usage_dead_letters=self.relay.usage_spool.dead_letters,
            ),
        )
        base_url = Fn.join(
            "",
            [
                "https://",
                self.relay.api.rest_api_id,
                f".execute-api.{site.region}.",
                Aws.URL_SUFFIX,
                f"/{config.settings.stage_name}",
            ],
        )
        CfnOutput(self, "EndpointUrl", value=self.relay.api.url, description="Relay endpoint")
        self.global_endpoint = self._global_endpoint(config, site)
        CfnOutput(
            self,
            "AnthropicBaseUrlExport",
            value=Fn.join("", ["export ANTHROPIC_BASE_URL=", base_url]),
            description="Point the Anthropic SDKs and Claude Code at the relay",
        )
        CfnOutput(
            self, "BedrockRegion", value=site.bedrock_region, description=site.bedrock_region_reason
        )
        CfnOutput(
            self,
            "RelayRoleArn",
            value=self.relay.role.role_arn,
            description="The relay's role: Workload Identity Federation on GCP admits it "
            "(relaykit connect gcp-config)",
        )
        CfnOutput(self, "Routing", value=site.routing.value)
        CfnOutput(self, "ModelIds", value=",".join(t.model_id for t in site.targets))
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        CfnOutput(
            self,
            "KeysTableName",
            value=self.relay.usage_table.table_name,
            description="Relay keys, limits and usage: relaykit keys create --table <this>",
        )
        CfnOutput(
            self,
            "UsageSpoolUrl",
            value=self.relay.usage_spool.queue.queue_url,
            description="Usage records waiting for the table: relaykit usage-replay --spool <this>",
        )
        CfnOutput(
            self,
            "UsagePlanId",
            value=self.relay.usage_plan.usage_plan_id,
            description="relaykit keys create --usage-plan <this> admits a key at the gateway",
        )

    def _global_endpoint(self, config: RelayKitConfig, site: RelaySite) -> GlobalEndpoint | None:
        """This region's share of `relaykit.domain`, if configured."""
        domain = config.settings.domain
        if domain is None:
            return None
        default = domain.default_relay or config.primary.name
        endpoint = GlobalEndpoint(
            self,
            "GlobalEndpoint",
            GlobalEndpointProps(
                domain=domain,
                relay_name=site.name,
                region=site.region,
                target=api_gateway_target(domain.name, self.relay.api, config.settings.stage_name),
                is_default=site.name == default,
            ),
        )
        CfnOutput(
            self,
            "GlobalEndpointUrl",
            value=f"https://{domain.name}",
            description=f"The hostname every relay serves ({domain.routing.value} routing)",
        )
        CfnOutput(self, "HealthCheckId", value=endpoint.health_check.health_check_id)
        return endpoint
