"""The relay: API Gateway (REST, regional) streaming from a Lambda that runs the ASGI app.

Python has no native Lambda response streaming, so the function runs uvicorn behind the AWS
Lambda Web Adapter layer with AWS_LWA_INVOKE_MODE=response_stream, and API Gateway invokes it
through the `response-streaming-invocations` URI (ResponseTransferMode.STREAM) with the
15-minute timeout streaming allows.

Clients authenticate with relay keys (`relaykit keys create`), sent as `x-api-key` or
`Authorization: Bearer`. A small authorizer looks the key's digest up in the relay's key table and
hands API Gateway the key's derived usage-plan key (key source AUTHORIZER), which the usage plan
throttles and caps; the relay, with RELAY_AUTH=api-gateway, then applies the key's own limits and
budgets. The stack creates no API key: each relay key reaches the usage plan through
`relaykit keys create --usage-plan`, and the client's secret is never an API Gateway key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.aws.bedrock_grants import invoke_statements
from stacks.aws.bundling import PORT, REPO_ROOT, RUNTIME, relay_code
from stacks.aws.compute_limits import LAMBDA_MAX_BODY_BYTES, LAMBDA_STREAM_SECONDS
from stacks.aws.config import (
    Architecture,
    ConfigError,
    RelayKitSettings,
    RelaySite,
    relay_role_name,
)
from stacks.aws.constructs.function import FunctionProps, LoggedFunction, retention
from stacks.aws.constructs.gateway_responses import add_gateway_responses
from stacks.aws.constructs.usage_spool import UsageSpool, UsageSpoolProps
from stacks.aws.constructs.web_acl import RelayWebAcl, RelayWebAclProps
from stacks.aws.failover import environment_overflow
from stacks.aws.fallback_grants import fallback_statements
from stacks.aws.nag import acknowledge

# What the relay does to its tables (relay/dynamo.py at runtime: key lookups, limit counters,
# budget transactions, usage records, breaker state, cached replies). Scans, queries and deletes
# are the operator's `relaykit keys`/`usage`, with the operator's credentials.
RELAY_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
RELAY_CACHE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
LAMBDAS = REPO_ROOT / "lambdas"
# The authorizer ships its own package and the one relay module it shares with the CLI.
KEY_AUTHORIZER_FILES = (
    "key_authorizer/__init__.py",
    "key_authorizer/handler.py",
    "relay/__init__.py",
    "relay/gateway_key.py",
)
STREAMING_TIMEOUT = Duration.seconds(LAMBDA_STREAM_SECONDS)


def web_adapter_layer_arn(
    region: str, architecture: Architecture, account: str, version: int
) -> str:
    """The AWS Lambda Web Adapter layer, published by its project in every commercial region."""
    name = (
        "LambdaAdapterLayerArm64"
        if architecture is Architecture.ARM_64
        else "LambdaAdapterLayerX86"
    )
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:lambda:{region}:{account}:layer:{name}:{version}"


@dataclass(frozen=True)
class GuardrailRef:
    """The guardrail the relay applies: ids for the headers, ARN for IAM."""

    guardrail_id: str
    version: str
    arn: str


@dataclass(frozen=True)
class RelayProps:
    site: RelaySite
    settings: RelayKitSettings
    account: str
    guardrail: GuardrailRef | None = None
    # RELAY_VERTEX_* and RELAY_FALLBACKS (RelayKitConfig.failover_environment).
    failover_environment: Mapping[str, str] = field(default_factory=dict)


class RelayState(Construct):
    """Provisions what a relay keeps whatever runs it: its tables and usage spool; and builds
    what any compute needs to run the relay against them (`relay_environment`, `grant_relay`,
    `web_acl`).

    Attributes: `usage_table`, `cache_table` (None if disabled), `usage_spool` (the queue usage
    records wait in while the table is down, and their replay), `web_acl` (None if disabled),
    and `role`, which each compute sets to the role its relay runs as.
    """

    role: iam.IRole

    def __init__(self, scope: Construct, construct_id: str, props: RelayProps) -> None:
        super().__init__(scope, construct_id)
        site, settings = props.site, props.settings
        self.usage_table = self._table("UsageTable")
        self.cache_table = self._table("CacheTable") if settings.cache.enabled else None
        self.usage_spool = UsageSpool(
            self,
            "UsageSpool",
            UsageSpoolProps(
                table=self.usage_table,
                code=relay_code(settings.lambda_.architecture),
                architecture=settings.lambda_.architecture,
                log_retention_days=settings.lambda_.log_retention_days,
                service_name=site.api_name,
            ),
        )
        self.web_acl: RelayWebAcl | None = None

    def attach_web_acl(self, props: RelayProps, resource_arn: str) -> RelayWebAcl | None:
        """The relay's WAF on `resource_arn` (a stage or a load balancer), if enabled."""
        settings = props.settings
        if not settings.waf.enabled:
            return None
        self.web_acl = RelayWebAcl(
            self,
            "Waf",
            RelayWebAclProps(
                name=f"{props.site.api_name}-waf",
                rate_limit=settings.waf.rate_limit,
                allowed_cidrs=settings.waf.allowed_cidrs,
                allowed_countries=settings.waf.allowed_countries,
                log_retention_days=settings.lambda_.log_retention_days,
                open_paths=("/health",) if settings.domain is not None else (),
            ),
        )
        self.web_acl.associate("Association", resource_arn)
        return self.web_acl

    def _table(self, construct_id: str) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_at",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def relay_environment(self, props: RelayProps) -> dict[str, str]:
        """The relay's settings whatever runs it (Lambda or a Fargate task): its models, tables,
        spool and options. Each compute adds its own server, auth and body-size lines."""
        site, settings = props.site, props.settings
        environment = {
            "RELAY_BEDROCK_REGION": site.bedrock_region,
            "RELAY_ROUTING": site.routing.value,
            "RELAY_MODELS": ",".join(t.model.alias for t in site.targets),
            "RELAY_TABLE_NAME": self.usage_table.table_name,
            "RELAY_USAGE_SPOOL": self.usage_spool.queue.queue_url,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_SERVICE_NAME": site.api_name,
            "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
        }
        if settings.catalog_extra:
            environment["RELAY_CATALOG_EXTRA"] = json.dumps(settings.catalog_extra)
        if settings.model_aliases:
            environment["RELAY_MODEL_ALIASES"] = json.dumps(settings.model_aliases)
        if not settings.family_aliases:
            environment["RELAY_FAMILY_ALIASES"] = "off"
        if self.cache_table is not None:
            environment["RELAY_CACHE_TABLE_NAME"] = self.cache_table.table_name
        if settings.metrics.per_key:
            environment["RELAY_METRICS_PER_KEY"] = "true"
        if props.guardrail is not None:
            environment["RELAY_GUARDRAIL_ID"] = props.guardrail.guardrail_id
            environment["RELAY_GUARDRAIL_VERSION"] = props.guardrail.version
        return environment | dict(props.failover_environment)

    def grant_relay(self, role: iam.IRole, props: RelayProps) -> None:
        """Exactly what the relay does, whatever runs it: invoke the configured models (and the
        guardrail), its table actions, and sending usage records to the spool."""
        self.usage_spool.queue.grant_send_messages(role)
        fallbacks = fallback_statements(props.site.fallback_targets, props.account)
        for statement in (*invoke_statements(props.site.targets, props.account), *fallbacks):
            role.add_to_principal_policy(statement.to_iam())
        if props.guardrail is not None:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ApplyGuardrail",
                    actions=["bedrock:ApplyGuardrail"],
                    resources=[props.guardrail.arn],
                )
            )
        self.usage_table.grant(role, *RELAY_TABLE_ACTIONS)
        if self.cache_table is not None:
            self.cache_table.grant(role, *RELAY_CACHE_ACTIONS)


class Relay(RelayState):
    """Provisions the relay function behind the REST API, the key authorizer, the usage plan and
    WAF on the stage, beside the tables and spool of `RelayState`.

    Attributes: `function` (and `role`), `api`, `usage_plan`, `authorizer_function`, and those
    of `RelayState`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: RelayProps) -> None:
        super().__init__(scope, construct_id, props)
        site, settings = props.site, props.settings
        self.function = LoggedFunction(self, "Handler", self._function_props(props))
        self.role = self.function.role
        self.grant_relay(self.role, props)
        acknowledge(
            self.role,
            "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
            "permissions; tracing the relay is required.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        self.authorizer_function = LoggedFunction(
            self,
            "KeyAuthorizer",
            FunctionProps(
                code=lambda_.Code.from_asset(
                    str(LAMBDAS),
                    exclude=[
                        "*",
                        *(f"!{d}" for d in sorted({f.split("/")[0] for f in KEY_AUTHORIZER_FILES})),
                        *(f"!{f}" for f in KEY_AUTHORIZER_FILES),
                    ],
                ),
                handler="key_authorizer.handler.handler",
                runtime=RUNTIME,
                description="Admits keys the relay's table knows, as their usage-plan key",
                architecture=settings.lambda_.architecture,
                timeout=Duration.seconds(5),
                memory_mb=128,
                log_retention_days=settings.lambda_.log_retention_days,
                environment=(("RELAY_TABLE_NAME", self.usage_table.table_name),),
            ),
        )
        # One GetItem on exactly the key table; nothing else.
        self.usage_table.grant(self.authorizer_function.role, "dynamodb:GetItem")
        self.api = self._rest_api(site, settings)
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            name=f"{site.api_name}-plan",
            description="Per-key throttle and daily quota for the Claude relay",
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.usage_plan.rate_limit,
                burst_limit=settings.usage_plan.burst_limit,
            ),
            quota=apigw.QuotaSettings(
                limit=settings.usage_plan.quota_per_day, period=apigw.Period.DAY
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        if self.attach_web_acl(props, self.api.deployment_stage.stage_arn) is None:
            acknowledge(
                self.api,
                "WAF is switched off in this deployment (relaykit.waf.enabled=false); the usage "
                "plan still throttles every key.",
                "AwsSolutions-APIG3",
            )

    def _function_props(self, props: RelayProps) -> FunctionProps:
        site, settings = props.site, props.settings
        lam = settings.lambda_
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "WebAdapter",
            web_adapter_layer_arn(
                site.region, lam.architecture, lam.web_adapter_account, lam.web_adapter_version
            ),
        )
        environment = {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "AWS_LWA_PORT": str(PORT),
            "AWS_LWA_READINESS_CHECK_PROTOCOL": "tcp",
            "PORT": str(PORT),
            "RELAY_AUTH": "api-gateway",
            "RELAY_MAX_BODY_BYTES": str(LAMBDA_MAX_BODY_BYTES),
            **self.relay_environment(props),
        }
        if overflow := environment_overflow(environment, Token.is_unresolved):
            raise ConfigError(overflow)
        return FunctionProps(
            code=relay_code(lam.architecture, vertex="RELAY_VERTEX_PROJECT" in environment),
            handler="run.sh",
            runtime=RUNTIME,
            description=f"Claude relay ({site.name}) calling Bedrock in {site.bedrock_region}",
            architecture=lam.architecture,
            timeout=STREAMING_TIMEOUT,
            memory_mb=lam.memory_mb,
            log_retention_days=lam.log_retention_days,
            environment=tuple(sorted(environment.items())),
            layers=(layer,),
            tracing=True,
            reserved_concurrency=lam.reserved_concurrency,
            role_name=relay_role_name(settings.prefix, site),
        )

    def _stage_options(self, settings: RelayKitSettings) -> apigw.StageOptions:
        stage = settings.stage_throttle
        throttle: dict[str, Any] = {
            "throttling_rate_limit": stage.rate_limit,
            "throttling_burst_limit": stage.burst_limit or settings.lambda_.reserved_concurrency,
        }
        if not settings.api_gateway_logging.enabled:
            return apigw.StageOptions(
                **throttle,
                stage_name=settings.stage_name,
                tracing_enabled=True,
                metrics_enabled=True,
            )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(settings.lambda_.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        return apigw.StageOptions(
            **throttle,
            stage_name=settings.stage_name,
            tracing_enabled=True,
            metrics_enabled=True,
            logging_level=apigw.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
        )

    def _rest_api(self, site: RelaySite, settings: RelayKitSettings) -> apigw.RestApi:
        logging = settings.api_gateway_logging
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=site.api_name,
            description=f"Anthropic Messages API relay to Bedrock ({site.bedrock_region})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            # The region's API Gateway CloudWatch role is account-wide: set only when asked, and
            # retained, so destroying this stack never breaks other APIs' logs.
            cloud_watch_role=logging.create_account_role,
            cloud_watch_role_removal_policy=(
                RemovalPolicy.RETAIN if logging.create_account_role else None
            ),
            deploy_options=self._stage_options(settings),
        )
        if logging.create_account_role:
            acknowledge(
                api,
                "API Gateway pushes execution logs with the AWS managed "
                "AmazonAPIGatewayPushToCloudWatchLogs policy, which is the documented way.",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
            )
        if not logging.enabled:
            acknowledge(
                api,
                "API Gateway logging is switched off (relaykit.apiGatewayLogging.enabled=false): "
                "the region has no API Gateway CloudWatch role and the operator chose not to set "
                "it; the relay's own function logs still record every request.",
                "AwsSolutions-APIG1",
                "AwsSolutions-APIG6",
            )
        authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self.authorizer_function.function,
            # No identity source: either header may carry the key, and API Gateway answers 401
            # before the authorizer when any declared source is missing, so Bearer-only clients
            # (ANTHROPIC_AUTH_TOKEN) would be shut out. Without a source there is no result
            # cache (TTL 0): the authorizer runs per request, 128 MB for a few ms plus one
            # GetItem, about $0.3 per million requests (docs/aws.md's cost table).
            identity_sources=[],
            results_cache_ttl=Duration.seconds(0),
        )
        # CDK writes an empty IdentitySource; CloudFormation wants none at all here.
        cfn_authorizer = authorizer.node.default_child
        assert isinstance(cfn_authorizer, apigw.CfnAuthorizer)
        cfn_authorizer.add_property_deletion_override("IdentitySource")
        integration = apigw.LambdaIntegration(
            self.function.function,
            proxy=True,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=STREAMING_TIMEOUT,
        )
        validator = api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        add_gateway_responses(api)
        # Health checks need no key: it answers from the function without calling Bedrock.
        health = api.root.add_resource("health").add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE
        )
        open_health = (
            "GET /health reports liveness only (no model call, no data) so load balancers and "
            "uptime checks can probe it without a key."
        )
        acknowledge(health, open_health, "AwsSolutions-APIG4", "AwsSolutions-COG4")
        cfn_health = health.node.default_child
        assert isinstance(cfn_health, apigw.CfnMethod)
        cfn_health.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_59", "comment": open_health}]})
        proxy = api.root.add_proxy(any_method=False)
        proxy.add_method(
            "ANY",
            integration,
            authorizer=authorizer,
            api_key_required=True,
            request_validator=validator,
        )
        acknowledge(
            api,
            "Clients are Anthropic SDKs that authenticate with API keys (x-api-key or bearer), "
            "checked by API Gateway against the usage plan; Cognito user pools do not apply.",
            "AwsSolutions-COG4",
        )
        return api
