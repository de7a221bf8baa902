"""A relay deployment in one region (the Hong Kong relay is one): the relay and its alarms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.aws.config import HONG_KONG, OPT_IN_REGIONS, Compute, RelayKitConfig, RelaySite
from stacks.aws.constructs.alarms import (
    FargateRelayMetrics,
    LambdaRelayMetrics,
    RelayAlarms,
    RelayAlarmsProps,
)
from stacks.aws.constructs.batches import RelayBatches, RelayBatchesProps
from stacks.aws.constructs.fargate import load_balancer_target
from stacks.aws.constructs.fargate_relay import FargateRelay
from stacks.aws.constructs.global_endpoint import (
    GlobalEndpoint,
    GlobalEndpointProps,
    TargetFactory,
    api_gateway_target,
)
from stacks.aws.constructs.relay import GuardrailRef, Relay, RelayProps, RelayState


class RelayStack(Stack):
    """Composes `relay` and `alarms` for `site`; its outputs say how to call it.

    `site.compute` chooses the relay: Lambda behind API Gateway (`relay`, a `Relay`, with its
    `alarms`: the default) or Fargate tasks behind a load balancer (`fargate_relay`).
    """

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
        props = RelayProps(
            site=site,
            settings=config.settings,
            account=account,
            guardrail=guardrail,
            failover_environment=config.failover_environment,
        )
        if site.compute is Compute.FARGATE:
            self.fargate_relay = FargateRelay(self, "Relay", props)
            compute = self.fargate_relay.compute
            self.batches = self._batches(
                config, site, account, self.fargate_relay.role, compute.container.add_environment
            )
            endpoint = Fn.join(
                "", [f"{compute.scheme}://", compute.load_balancer.load_balancer_dns_name]
            )
            self._outputs(config, site, self.fargate_relay, endpoint, endpoint)
            self.global_endpoint = self._global_endpoint(
                config, site, lambda _: load_balancer_target(compute)
            )
            self.alarms = self._alarms(
                config,
                site,
                self.fargate_relay,
                FargateRelayMetrics(compute.load_balancer, compute.target_group, compute.service),
            )
            CfnOutput(self, "ClusterName", value=compute.cluster.cluster_name)
            CfnOutput(self, "ServiceName", value=compute.service.service_name)
            return
        self.relay = Relay(self, "Relay", props)
        self.batches = self._batches(
            config, site, account, self.relay.role, self.relay.function.function.add_environment
        )
        self.alarms = self._alarms(
            config,
            site,
            self.relay,
            LambdaRelayMetrics(
                self.relay.function.function, self.relay.authorizer_function.function
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
        self._outputs(config, site, self.relay, self.relay.api.url, base_url)
        self.global_endpoint = self._global_endpoint(
            config,
            site,
            lambda name: api_gateway_target(name, self.relay.api, config.settings.stage_name),
        )
        CfnOutput(
            self,
            "UsagePlanId",
            value=self.relay.usage_plan.usage_plan_id,
            description="relaykit keys create --usage-plan <this> admits a key at the gateway",
        )

    @property
    def availability_zones(self) -> list[str]:
        """The region's first two zones, resolved by CloudFormation at deploy time (Fn::GetAZs),
        so synthesis needs no account lookup and writes no zone names into the template."""
        return [Fn.select(i, Fn.get_azs()) for i in range(2)]

    def _outputs(
        self,
        config: RelayKitConfig,
        site: RelaySite,
        relay: RelayState,
        endpoint: str,
        base_url: str,
    ) -> None:
        """The outputs every relay has, whatever its compute."""
        CfnOutput(self, "EndpointUrl", value=endpoint, description="Relay endpoint")
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
            value=relay.role.role_arn,
            description="The relay's role: Workload Identity Federation on GCP admits it "
            "(relaykit connect gcp-config)",
        )
        CfnOutput(self, "Routing", value=site.routing.value)
        CfnOutput(self, "ModelIds", value=",".join(t.model_id for t in site.targets))
        CfnOutput(
            self,
            "KeysTableName",
            value=relay.usage_table.table_name,
            description="Relay keys, limits and usage: relaykit keys create --table <this>",
        )
        CfnOutput(
            self,
            "UsageSpoolUrl",
            value=relay.usage_spool.queue.queue_url,
            description="Usage records waiting for the table: relaykit usage-replay --spool <this>",
        )

    def _alarms(
        self,
        config: RelayKitConfig,
        site: RelaySite,
        relay: RelayState,
        compute: LambdaRelayMetrics | FargateRelayMetrics,
    ) -> RelayAlarms:
        """The relay's alarms on its topic, whatever its compute."""
        alarms = RelayAlarms(
            self,
            "Alarms",
            RelayAlarmsProps(
                site=site,
                settings=config.settings,
                compute=compute,
                usage_table=relay.usage_table,
                usage_spool=relay.usage_spool.queue,
                usage_dead_letters=relay.usage_spool.dead_letters,
            ),
        )
        CfnOutput(self, "AlarmTopicArn", value=alarms.topic.topic_arn)
        return alarms

    def _batches(
        self,
        config: RelayKitConfig,
        site: RelaySite,
        account: str,
        role: iam.IRole,
        add_environment: Callable[[str, str], object],
    ) -> RelayBatches | None:
        """Message Batches for the relay running as `role`, unless disabled."""
        if not config.settings.batches.enabled:
            return None
        return RelayBatches(
            self, "Batches", RelayBatchesProps(site, account, role, add_environment)
        )

    def _global_endpoint(
        self,
        config: RelayKitConfig,
        site: RelaySite,
        target: Callable[[str], TargetFactory],
    ) -> GlobalEndpoint | None:
        """This region's share of `relaykit.domain`, if configured; `target` builds the
        hostname's regional target for the compute, given the hostname."""
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
                target=target(domain.name),
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
