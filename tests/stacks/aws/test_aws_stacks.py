"""Fine-grained assertions on the synthesised templates, and the cdk-nag gate.

Model ids, regions and prices come from the catalog (through the synthesised config); nothing
here spells them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match
from aws_stack_helpers import (
    ACCOUNT,
    OBSERVABILITY,
    PREFIX,
    RELAY_HONG_KONG,
    RELAY_PRIMARY,
    resources,
)

from relay.catalog import Geography
from stacks.aws.config import HONG_KONG, RelaySite
from stacks.aws.constructs.guardrail import ANONYMISED_ENTITIES
from stacks.aws.constructs.relay import KEY_AUTHORIZER_FILES
from stacks.aws.nag import acknowledge, add_checks

INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def _site(synthesis: Any, name: str) -> RelaySite:
    site: RelaySite = next(r for r in synthesis.deployment.config.relays if r.name == name)
    return site


def _role_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    policies = resources(template, "AWS::IAM::Policy")
    statements: list[dict[str, Any]] = []
    for policy in policies.values():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_prefix in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _expected_bedrock_statements(site: RelaySite) -> list[dict[str, Any]]:
    """What AWS documents for invoking through each target, written out independently."""
    expected: list[dict[str, Any]] = []
    for target in site.targets:
        model = target.model
        fm = f"arn:aws:bedrock:{site.bedrock_region}::foundation-model/{model.bedrock_id}"
        if target.profile is None:
            expected.append({"Action": INVOKE, "Resource": fm})
            continue
        profile = (
            f"arn:aws:bedrock:{site.bedrock_region}:{ACCOUNT}:inference-profile/{target.model_id}"
        )
        expected.append({"Action": INVOKE, "Resource": profile})
        if target.profile.geography is Geography.GLOBAL:
            expected.append(
                {
                    "Action": INVOKE,
                    "Resource": fm,
                    "Condition": {
                        "StringEquals": {
                            "aws:RequestedRegion": site.bedrock_region,
                            "bedrock:InferenceProfileArn": profile,
                        }
                    },
                }
            )
            expected.append(
                {
                    "Action": INVOKE,
                    "Resource": f"arn:aws:bedrock:::foundation-model/{model.bedrock_id}",
                    "Condition": {
                        "StringEquals": {
                            "aws:RequestedRegion": "unspecified",
                            "bedrock:InferenceProfileArn": profile,
                        }
                    },
                }
            )
        else:
            destinations = sorted(set(target.profile.destination_regions))
            expected.append(
                {
                    "Action": INVOKE,
                    "Resource": [
                        f"arn:aws:bedrock:{r}::foundation-model/{model.bedrock_id}"
                        for r in destinations
                    ],
                    "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
                }
            )
        if model.bedrock_count_tokens:
            expected.append({"Action": "bedrock:CountTokens", "Resource": fm})
    return expected


def test_every_stack_passes_aws_solutions_checks_with_reasons(synthesis: Any) -> None:
    report = synthesis.report()
    violations = [
        (
            plugin["pluginName"],
            v["ruleName"],
            [c["constructPath"] for c in v["violatingConstructs"]],
        )
        for plugin in (report or {}).get("pluginReports", [])
        for v in plugin["violations"]
    ]
    assert synthesis.validation_error is None, violations
    assert violations == []


def _wildcard_app(outdir: Any, reason: str | None) -> App:
    app = App(outdir=str(outdir))
    stack = Stack(app, "Wildcard")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    if reason:
        acknowledge(role, reason, "AwsSolutions-IAM5[Resource::*]")
    add_checks(app)
    return app


def test_nag_gate_fails_synthesis_on_an_unacknowledged_wildcard(tmp_path: Any) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        _wildcard_app(tmp_path, None).synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-IAM5[Resource::*]" in rules


def test_nag_acknowledgement_by_finding_id_clears_it(tmp_path: Any) -> None:
    _wildcard_app(tmp_path, "a reason long enough to explain the finding").synth()
    report_path = tmp_path / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    assert [v for p in report.get("pluginReports", []) for v in p["violations"]] == []


def test_synthesis_produces_every_stack(synthesis: Any) -> None:
    config = synthesis.deployment.config
    expected = {f"{PREFIX}-BedrockAccess-{r}" for r in config.bedrock_regions}
    expected |= {RELAY_PRIMARY, RELAY_HONG_KONG, OBSERVABILITY}
    assert expected <= set(synthesis.templates)


def test_no_policy_grants_a_wildcard_action(synthesis: Any) -> None:
    for name, template in synthesis.templates.items():
        for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for logical_id, policy in resources(template, policy_type).items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    wild = [a for a in _actions(statement) if "*" in a]
                    assert wild == [], f"{name}/{logical_id}: {wild}"


@pytest.mark.parametrize(
    ("stack", "site_name"), [(RELAY_PRIMARY, "primary"), (RELAY_HONG_KONG, "hongkong")]
)
def test_relay_role_may_invoke_exactly_the_configured_models(
    synthesis: Any, stack: str, site_name: str
) -> None:
    site = _site(synthesis, site_name)
    statements = _role_statements(synthesis.templates[stack], "RelayHandlerRole")
    # Batch jobs (and their models) are test_aws_batches.py's.
    bedrock = [
        {k: v for k, v in s.items() if k in ("Action", "Resource", "Condition")}
        for s in statements
        if any(a.startswith("bedrock:") and a != "bedrock:ApplyGuardrail" for a in _actions(s))
        and s.get("Sid") != "BatchJobs"
    ]
    assert bedrock == _expected_bedrock_statements(site)


def test_relay_role_has_nothing_but_bedrock_guardrail_tables_logs_and_tracing(
    synthesis: Any,
) -> None:
    statements = _role_statements(synthesis.templates[RELAY_HONG_KONG], "RelayHandlerRole")
    actions = {a for s in statements for a in _actions(s)}
    allowed_prefixes = ("bedrock:", "dynamodb:", "logs:", "xray:", "sqs:", "s3:", "iam:")
    assert all(a.startswith(allowed_prefixes) for a in actions), actions
    # Of S3 and IAM, only the batches' objects and passing their role (test_aws_batches.py).
    assert {a for a in actions if a.startswith(("s3:", "iam:"))} == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "iam:PassRole",
    }
    # Of SQS, only sending to its usage spool (test_aws_usage_spool.py checks the queue).
    assert {a for a in actions if a.startswith("sqs:")} == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    star = [s for s in statements if s["Resource"] == "*"]
    assert [sorted(_actions(s)) for s in star] == [
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    ]
    guardrail = [s for s in statements if _actions(s) == ["bedrock:ApplyGuardrail"]]
    assert len(guardrail) == 1


def test_hong_kong_relay_runs_in_ap_east_1_and_calls_its_bedrock_region(synthesis: Any) -> None:
    site = _site(synthesis, "hongkong")
    stack = synthesis.deployment.relays["hongkong"]
    assert stack.region == HONG_KONG
    assert site.bedrock_region != HONG_KONG
    template = synthesis.template(RELAY_HONG_KONG)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "run.sh",
            "Layers": [
                Match.string_like_regexp(
                    r"^arn:aws:lambda:ap-east-1:\d{12}:layer:LambdaAdapterLayer"
                )
            ],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "RELAY_BEDROCK_REGION": site.bedrock_region,
                        "RELAY_ROUTING": synthesis.deployment.config.settings.routing.value,
                        "RELAY_AUTH": "api-gateway",
                        "AWS_LWA_INVOKE_MODE": "response_stream",
                        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                    }
                )
            },
        },
    )
    outputs = synthesis.templates[RELAY_HONG_KONG]["Outputs"]
    assert outputs["BedrockRegion"]["Value"] == site.bedrock_region
    assert outputs["BedrockRegion"]["Description"] == site.bedrock_region_reason
    assert "opt-in region" in synthesis.templates[RELAY_HONG_KONG]["Description"]


def test_hong_kong_default_bedrock_region_is_the_first_candidate_that_serves_the_models(
    synthesis: Any,
) -> None:
    from relay.targets import NoRouteError, bedrock_target

    config = synthesis.deployment.config
    settings = config.settings

    def serves(region: str) -> bool:
        try:
            for model in config.models:
                bedrock_target(model, region, settings.routing)
        except NoRouteError:
            return False
        return True

    expected = next(r for r in settings.hong_kong.bedrock_region_candidates if serves(r))
    assert _site(synthesis, "hongkong").bedrock_region == expected


@pytest.mark.parametrize("stack", [RELAY_PRIMARY, RELAY_HONG_KONG])
def test_api_streams_from_the_lambda_through_response_streaming_invocations(
    synthesis: Any, stack: str
) -> None:
    methods = resources(synthesis.templates[stack], "AWS::ApiGateway::Method")
    assert methods
    for method in methods.values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["TimeoutInMillis"] == 15 * 60 * 1000
        uri_parts = integration["Uri"]["Fn::Join"][1]
        assert uri_parts[-1] == "/response-streaming-invocations"
        if method["Properties"]["AuthorizationType"] == "NONE":
            continue  # GET /health (test_aws_gateway_responses.py)
        assert method["Properties"]["ApiKeyRequired"] is True
        assert method["Properties"]["AuthorizationType"] == "CUSTOM"


def test_api_takes_keys_from_an_authorizer_that_reads_both_headers(synthesis: Any) -> None:
    template = synthesis.template(RELAY_PRIMARY)
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"ApiKeySourceType": "AUTHORIZER", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "REQUEST", "AuthorizerResultTtlInSeconds": 0, "IdentitySource": Match.absent()},
    )


def test_usage_plan_throttles_and_caps_every_key(synthesis: Any) -> None:
    plan = synthesis.deployment.config.settings.usage_plan
    template = synthesis.template(RELAY_PRIMARY)
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": plan.rate_limit, "BurstLimit": plan.burst_limit},
            "Quota": {"Limit": plan.quota_per_day, "Period": "DAY"},
        },
    )


def test_no_variant_creates_an_api_key_the_relay_does_not_know(
    synthesis: Any, default_synthesis: Any
) -> None:
    for variant in (synthesis, default_synthesis):
        for name, template in variant.templates.items():
            for key_type in ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"):
                assert resources(template, key_type) == {}, (name, key_type)
            assert resources(template, "AWS::ApiGateway::Account") == {}, name


def test_authorizer_reads_exactly_the_key_table_and_ships_the_shared_derivation(
    synthesis: Any,
) -> None:
    relay = synthesis.deployment.relays["primary"].relay
    statements = _role_statements(synthesis.templates[RELAY_PRIMARY], "KeyAuthorizerRole")
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    table_id = synthesis.deployment.relays["primary"].resolve(relay.usage_table.table_arn)
    assert [(_actions(s), s["Resource"]) for s in dynamo] == [(["dynamodb:GetItem"], table_id)]
    stack = synthesis.deployment.relays["primary"]
    function = relay.authorizer_function.function
    logical_id = stack.get_logical_id(function.node.default_child)
    resource = synthesis.templates[RELAY_PRIMARY]["Resources"][logical_id]
    asset_hash = resource["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = Path(synthesis.outdir) / f"asset.{asset_hash}"
    shipped = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert shipped == sorted(KEY_AUTHORIZER_FILES)


def test_stage_has_access_logs_tracing_and_metrics(synthesis: Any) -> None:
    synthesis.template(RELAY_PRIMARY).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": [
                Match.object_like({"MetricsEnabled": True, "DataTraceEnabled": False})
            ],
        },
    )


def test_relay_grants_only_the_table_actions_it_uses(synthesis: Any) -> None:
    statements = _role_statements(synthesis.templates[RELAY_PRIMARY], "RelayHandlerRole")
    actions = {a for s in statements for a in _actions(s) if a.startswith("dynamodb:")}
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_waf_logs_redact_the_key_headers(synthesis: Any) -> None:
    (logging,) = resources(
        synthesis.templates[RELAY_PRIMARY], "AWS::WAFv2::LoggingConfiguration"
    ).values()
    redacted = {f["SingleHeader"]["Name"] for f in logging["Properties"]["RedactedFields"]}
    assert redacted == {"x-api-key", "authorization"}


def test_marketplace_subscription_is_not_bound_to_the_bedrock_region(synthesis: Any) -> None:
    region = synthesis.deployment.config.primary.bedrock_region
    template = synthesis.templates[f"{PREFIX}-BedrockAccess-{region}"]
    statements = _role_statements(template, "ModelAccessHandlerRole")
    (marketplace,) = [s for s in statements if s.get("Sid") == "SubscribeToModelOffers"]
    assert sorted(_actions(marketplace)) == [
        "aws-marketplace:Subscribe",
        "aws-marketplace:ViewSubscriptions",
    ]
    assert "Condition" not in marketplace


def test_relay_has_reserved_concurrency_and_the_stage_a_throttle(synthesis: Any) -> None:
    settings = synthesis.deployment.config.settings
    template = synthesis.templates[RELAY_PRIMARY]
    (relay,) = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::Function").values()
        if "RELAY_AUTH" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert relay["ReservedConcurrentExecutions"] == settings.lambda_.reserved_concurrency
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    (method_settings,) = stage["Properties"]["MethodSettings"]
    assert method_settings["ThrottlingRateLimit"] == settings.stage_throttle.rate_limit
    assert method_settings["ThrottlingBurstLimit"] == settings.lambda_.reserved_concurrency


def test_relay_tables_are_on_demand_with_pitr_and_ttl(synthesis: Any) -> None:
    template = synthesis.template(RELAY_PRIMARY)
    template.resource_count_is("AWS::DynamoDB::Table", 2)
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_waf_limits_rate_and_allows_only_the_listed_countries_and_addresses(synthesis: Any) -> None:
    waf = synthesis.deployment.config.settings.waf
    template = synthesis.template(RELAY_HONG_KONG)
    acl = next(iter(resources(synthesis.templates[RELAY_HONG_KONG], "AWS::WAFv2::WebACL").values()))
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    assert list(rules) == [
        "BlockOutsideIpAllowList",
        "BlockOutsideCountryAllowList",
        "RateLimitPerIp",
    ]
    geo = rules["BlockOutsideCountryAllowList"]["Statement"]["NotStatement"]["Statement"]
    assert geo["GeoMatchStatement"]["CountryCodes"] == list(waf.allowed_countries)
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == waf.rate_limit
    assert all("Block" in r["Action"] for r in rules.values())
    template.resource_count_is("AWS::WAFv2::IPSet", 2)
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)


def test_alarms_and_their_thresholds(synthesis: Any) -> None:
    settings = synthesis.deployment.config.settings
    alarms = resources(synthesis.templates[RELAY_PRIMARY], "AWS::CloudWatch::Alarm")
    by_name = {k: v["Properties"] for k, v in alarms.items()}

    def one(prefix: str) -> dict[str, Any]:
        found = [v for k, v in by_name.items() if k.startswith(prefix)]
        assert len(found) >= 1, prefix
        alarm = dict(found[0])
        if "Metrics" in alarm and len(alarm["Metrics"]) == 1:
            stat = alarm["Metrics"][0]["MetricStat"]
            alarm |= {
                "Namespace": stat["Metric"]["Namespace"],
                "MetricName": stat["Metric"]["MetricName"],
                "Dimensions": stat["Metric"]["Dimensions"],
                "Stat": stat["Stat"],
            }
        return alarm

    success = one("AlarmsSuccessRate")
    assert success["Threshold"] == settings.alarms.success_rate_percent
    assert success["ComparisonOperator"] == "LessThanThreshold"
    latency = one("AlarmsP99Latency")
    assert latency["Threshold"] == settings.alarms.p99_latency_ms
    assert latency["Stat"] == "p99"
    assert latency["MetricName"] == "TimeToFirstToken"
    # A key reaching its own limit (rate_limit_error) is no alarm; Bedrock throttling is.
    assert not [k for k in by_name if k.startswith("AlarmsThrottling")]
    bedrock = one("AlarmsBedrockThrottles")
    assert (bedrock["Namespace"], bedrock["MetricName"]) == ("AWS/Bedrock", "InvocationThrottles")
    for name, metric in (
        ("AlarmsRelayErrors", "Errors"),
        ("AlarmsRelayThrottles", "Throttles"),
        ("AlarmsAuthorizerErrors", "Errors"),
    ):
        alarm = one(name)
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric), name
    concurrency = one("AlarmsRelayConcurrency")
    assert concurrency["MetricName"] == "ConcurrentExecutions"
    assert concurrency["Threshold"] == int(settings.lambda_.reserved_concurrency * 0.8)
    table = one("AlarmsTableThrottles")
    assert {m["Id"] for m in table["Metrics"]} >= {"reads", "writes"}
    cost = one("AlarmsDailyCost")
    expected = round(settings.budget.monthly_usd / 30 * settings.alarms.cost_alarm_percent / 100, 2)
    assert cost["Threshold"] == expected
    topic = next(iter(resources(synthesis.templates[RELAY_PRIMARY], "AWS::SNS::Topic")))
    for alarm in by_name.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    synthesis.template(RELAY_PRIMARY).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_dashboard_shows_bedrock_and_relay_widgets(synthesis: Any) -> None:
    dashboards = resources(synthesis.templates[OBSERVABILITY], "AWS::CloudWatch::Dashboard")
    body = json.dumps(next(iter(dashboards.values()))["Properties"]["DashboardBody"])
    for metric in (
        "Invocations",
        "InvocationLatency",
        "InvocationClientErrors",
        "InvocationServerErrors",
        "InvocationThrottles",
        "InputTokenCount",
        "OutputTokenCount",
        "4XXError",
        "5XXError",
        "TimeToFirstToken",
        "CostUSD",
        "CacheHits",
    ):
        assert metric in body, metric
    for title in ("time to first token", "cost (USD)", "cache hit rate", "latency p50/p95/p99"):
        assert title in body, title
    for site in synthesis.deployment.config.relays:
        assert site.api_name in body
    for target in _site(synthesis, "hongkong").targets:
        assert target.model_id in body


def test_budget_counts_bedrock_and_marketplace_spend_and_emails_the_recipient(
    synthesis: Any,
) -> None:
    settings = synthesis.deployment.config.settings
    template = synthesis.templates[OBSERVABILITY]
    (budget,) = resources(template, "AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert "CostFilters" not in data  # the legacy filter
    assert data["BudgetLimit"] == {"Amount": settings.budget.monthly_usd, "Unit": "USD"}
    assert data["FilterExpression"] == {
        "Or": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
            {"Dimensions": {"Key": "BILLING_ENTITY", "Values": ["AWS Marketplace"]}},
        ]
    }
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {n["Notification"]["NotificationType"] for n in notifications} == {
        "ACTUAL",
        "FORECASTED",
    }
    for notification in notifications:
        assert notification["Subscribers"] == [
            {"Address": "ops@example.com", "SubscriptionType": "EMAIL"}
        ]


def test_cost_anomalies_over_a_days_budget_email_the_recipient(synthesis: Any) -> None:
    settings = synthesis.deployment.config.settings
    template = synthesis.templates[OBSERVABILITY]
    (monitor,) = resources(template, "AWS::CE::AnomalyMonitor").values()
    assert monitor["Properties"]["MonitorType"] == "DIMENSIONAL"
    (subscription,) = resources(template, "AWS::CE::AnomalySubscription").values()
    props = subscription["Properties"]
    assert props["Subscribers"] == [{"Address": "ops@example.com", "Type": "EMAIL"}]
    threshold = json.loads(props["ThresholdExpression"])["Dimensions"]
    assert threshold["Key"] == "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
    assert float(threshold["Values"][0]) == round(settings.budget.monthly_usd / 30, 2)


def test_alarm_topic_emails_the_recipient(synthesis: Any) -> None:
    for stack in (RELAY_PRIMARY, RELAY_HONG_KONG):
        synthesis.template(stack).has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
        )


def test_bedrock_access_stack_has_guardrail_logging_access_and_policy(synthesis: Any) -> None:
    config = synthesis.deployment.config
    region = config.primary.bedrock_region
    name = f"{PREFIX}-BedrockAccess-{region}"
    template = synthesis.template(name)
    template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "SensitiveInformationPolicyConfig": {
                "PiiEntitiesConfig": Match.array_with(
                    [
                        Match.object_like({"Type": e, "Action": "ANONYMIZE"})
                        for e in ("PHONE", "EMAIL", "CREDIT_DEBIT_CARD_NUMBER")
                    ]
                ),
                "RegexesConfig": Match.any_value(),
            }
        },
    )
    template.resource_count_is("AWS::Bedrock::GuardrailVersion", 1)
    template.has_resource_properties(
        "Custom::BedrockModelAccess",
        {
            "ModelIds": [m.bedrock_id for m in config.models],
            "UseCase": Match.object_like({"companyName": "Example Ltd"}),
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": Match.any_value()}
    )
    template.has_resource_properties("Custom::BedrockInvocationLogging", Match.any_value())
    policy = next(iter(resources(synthesis.templates[name], "AWS::IAM::ManagedPolicy").values()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Resource"] != "*" for s in statements)
    assert len(ANONYMISED_ENTITIES) >= 4


def test_application_profiles_copy_the_relays_targets(synthesis: Any) -> None:
    config = synthesis.deployment.config
    region = config.primary.bedrock_region
    template = synthesis.templates[f"{PREFIX}-BedrockAccess-{region}"]
    profiles = resources(template, "AWS::Bedrock::ApplicationInferenceProfile")
    copied = json.dumps([p["Properties"]["ModelSource"] for p in profiles.values()])
    for target in config.targets_in(region):
        assert target.model_id in copied


def test_hong_kong_relay_reads_the_guardrail_across_regions(synthesis: Any) -> None:
    env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in resources(synthesis.templates[RELAY_HONG_KONG], "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "run.sh"
    )
    assert "ExportsReader" in json.dumps(env["RELAY_GUARDRAIL_ID"])
    assert "RELAY_GUARDRAIL_VERSION" in env


def test_the_relay_function_gets_the_routers_and_the_budget_downgrade(synthesis: Any) -> None:
    settings = synthesis.deployment.config.settings
    env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in resources(synthesis.templates[RELAY_PRIMARY], "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "run.sh"
    )
    assert json.loads(env["RELAY_ROUTERS"]) == settings.routers
    assert env["RELAY_BUDGET_DOWNGRADE"] == ",".join(settings.budget_downgrade)


def test_the_dashboard_shows_routing_savings_from_the_relays_metric(synthesis: Any) -> None:
    body = json.dumps(resources(synthesis.templates[OBSERVABILITY], "AWS::CloudWatch::Dashboard"))
    assert "routing savings (USD)" in body
    for metric in ("SavedUSD", "Downgrades", "Hedges", "SlowFailovers"):
        assert metric in body, metric
