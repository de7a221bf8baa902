"""The relay: API Gateway (REST, regional) streaming from a Lambda that runs the ASGI app.

Python has no native Lambda response streaming, so the function runs uvicorn behind the AWS
Lambda Web Adapter layer with AWS_LWA_INVOKE_MODE=response_stream, and API Gateway invokes it
through the `response-streaming-invocations` URI (ResponseTransferMode.STREAM) with the
15-minute timeout streaming allows.

Clients authenticate with API Gateway API keys, sent as `x-api-key` or `Authorization: Bearer`:
a small authorizer hands the key to API Gateway (key source AUTHORIZER), which checks it against
the usage plan (throttle and daily quota). The relay therefore runs with RELAY_AUTH=api-gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.aws.bedrock_grants import invoke_statements
from stacks.aws.bundling import PORT, REPO_ROOT, RUNTIME, relay_code
from stacks.aws.config import Architecture, RelayKitSettings, RelaySite
from stacks.aws.constructs.function import FunctionProps, LoggedFunction, retention
from stacks.aws.constructs.web_acl import RelayWebAcl, RelayWebAclProps
from stacks.aws.nag import acknowledge

KEY_AUTHORIZER_CODE = REPO_ROOT / "lambdas" / "key_authorizer"
STREAMING_TIMEOUT = Duration.minutes(15)


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


class Relay(Construct):
    """Provisions the relay function, its tables, the REST API, keys, usage plan and WAF.

    Attributes: `function` (and `role`), `usage_table`, `cache_table` (None if disabled), `api`,
    `usage_plan`, `api_keys` (by name), `authorizer_function`, `web_acl` (None if disabled).
    """

    def __init__(self, scope: Construct, construct_id: str, props: RelayProps) -> None:
        super().__init__(scope, construct_id)
        site, settings = props.site, props.settings
        self.usage_table = self._table("UsageTable")
        self.cache_table = self._table("CacheTable") if settings.cache.enabled else None
        self.function = LoggedFunction(self, "Handler", self._function_props(props))
        self.role = self.function.role
        for statement in invoke_statements(site.targets, props.account):
            self.role.add_to_policy(statement.to_iam())
        if props.guardrail is not None:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ApplyGuardrail",
                    actions=["bedrock:ApplyGuardrail"],
                    resources=[props.guardrail.arn],
                )
            )
        self.usage_table.grant_read_write_data(self.role)
        if self.cache_table is not None:
            self.cache_table.grant_read_write_data(self.role)
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
                    str(KEY_AUTHORIZER_CODE), exclude=["__pycache__", "*.pyc"]
                ),
                handler="handler.handler",
                runtime=RUNTIME,
                description="Hands API Gateway the API key from x-api-key or a bearer token",
                architecture=settings.lambda_.architecture,
                timeout=Duration.seconds(5),
                memory_mb=128,
                log_retention_days=settings.lambda_.log_retention_days,
            ),
        )
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
        self.api_keys: dict[str, apigw.IApiKey] = {}
        for name in settings.usage_plan.api_keys:
            key = self.api.add_api_key(
                f"Key{name.title().replace('-', '')}",
                api_key_name=f"{site.api_name}-{name}",
                description=f"Relay API key '{name}'",
            )
            self.usage_plan.add_api_key(key)
            self.api_keys[name] = key
        self.web_acl: RelayWebAcl | None = None
        if settings.waf.enabled:
            self.web_acl = RelayWebAcl(
                self,
                "Waf",
                RelayWebAclProps(
                    name=f"{site.api_name}-waf",
                    rate_limit=settings.waf.rate_limit,
                    allowed_cidrs=settings.waf.allowed_cidrs,
                    allowed_countries=settings.waf.allowed_countries,
                ),
            )
            self.web_acl.associate("Association", self.api.deployment_stage.stage_arn)
        else:
            acknowledge(
                self.api,
                "WAF is switched off in this deployment (relaykit.waf.enabled=false); the usage "
                "plan still throttles every key.",
                "AwsSolutions-APIG3",
            )

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
            "RELAY_BEDROCK_REGION": site.bedrock_region,
            "RELAY_ROUTING": settings.routing.value,
            "RELAY_MODELS": ",".join(t.model.alias for t in site.targets),
            "RELAY_AUTH": "api-gateway",
            "RELAY_TABLE_NAME": self.usage_table.table_name,
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
        if props.guardrail is not None:
            environment["RELAY_GUARDRAIL_ID"] = props.guardrail.guardrail_id
            environment["RELAY_GUARDRAIL_VERSION"] = props.guardrail.version
        return FunctionProps(
            code=relay_code(lam.architecture),
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
        )

    def _rest_api(self, site: RelaySite, settings: RelayKitSettings) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(settings.lambda_.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=site.api_name,
            description=f"Anthropic Messages API relay to Bedrock ({site.bedrock_region})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
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
            ),
        )
        acknowledge(
            api,
            "API Gateway pushes execution logs with the AWS managed "
            "AmazonAPIGatewayPushToCloudWatchLogs policy, which is the documented way.",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
        )
        authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self.authorizer_function.function,
            # No identity source: either header may carry the key, and a declared source would
            # reject requests without it before the authorizer runs. Hence no caching either.
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
