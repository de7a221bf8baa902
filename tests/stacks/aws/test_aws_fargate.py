"""The primary relay with `compute: "fargate"`: the resources it synthesises, asserted by name.

One synthesis per session (`fargate_synthesis`, shared with the cfn-lint and checkov variants in
test_aws_template_lint.py); the Lambda relay of `default_synthesis` is the reference for the
grants, which must be the same statements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_stack_helpers import (
    CERTIFICATE_ARN,
    DEFAULT_OVERRIDES,
    FARGATE_HOSTNAME,
    RELAY_PRIMARY,
    resources,
)

from stacks.aws.compute_limits import (
    ALB_IDLE_TIMEOUT_SECONDS,
    FARGATE_DRAIN_SECONDS,
    FARGATE_MAX_BODY_BYTES,
    FARGATE_STOP_TIMEOUT_SECONDS,
)
from stacks.aws.config import ConfigError, load_config
from stacks.aws.constructs.fargate_image import context_entries

REPO = Path(__file__).resolve().parents[3]


def _template(synthesis: Any) -> dict[str, Any]:
    template: dict[str, Any] = synthesis.templates[RELAY_PRIMARY]
    return template


def _one(template: dict[str, Any], resource_type: str, name: str) -> dict[str, Any]:
    """The one resource of `resource_type` whose logical id starts with `name` (its CDK path)."""
    (found,) = [
        r["Properties"]
        for logical_id, r in resources(template, resource_type).items()
        if logical_id.startswith(name)
    ]
    return found


def _logical_id(template: dict[str, Any], resource_type: str, name: str) -> str:
    (found,) = [k for k in resources(template, resource_type) if k.startswith(name)]
    return found


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    role_id = _logical_id(template, "AWS::IAM::Role", role)
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _container(template: dict[str, Any]) -> dict[str, Any]:
    task = _one(template, "AWS::ECS::TaskDefinition", "RelayFargateTask")
    (container,) = task["ContainerDefinitions"]
    return dict(container)


def _environment(template: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in _container(template)["Environment"]}


def test_synthesis_passes_cdk_nag_with_reasons(fargate_synthesis: Any) -> None:
    assert fargate_synthesis.validation_error is None


def test_no_nat_gateway_api_gateway_or_relay_function(fargate_synthesis: Any) -> None:
    template = _template(fargate_synthesis)
    for absent in (
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::UsagePlan",
    ):
        assert resources(template, absent) == {}, absent
    functions = resources(template, "AWS::Lambda::Function").values()
    # Only the usage replay remains a function (test_aws_usage_spool.py).
    assert [f["Properties"]["Handler"] for f in functions] == ["relay.spool.replay_handler"]


def test_vpc_has_public_subnets_in_two_zones_resolved_at_deploy(fargate_synthesis: Any) -> None:
    subnets = resources(_template(fargate_synthesis), "AWS::EC2::Subnet").values()
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(2)]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] for s in subnets)


def test_service_runs_the_tasks_with_public_addresses_and_rolls_back_failed_deploys(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    service = _one(template, "AWS::ECS::Service", "RelayFargateService")
    assert service["LaunchType"] == "FARGATE"
    assert service["DesiredCount"] == 2
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"
    assert network["SecurityGroups"] == [
        {
            "Fn::GetAtt": [
                _logical_id(template, "AWS::EC2::SecurityGroup", "RelayFargateTask"),
                "GroupId",
            ]
        }
    ]
    deployment = service["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == 100
    (target,) = service["LoadBalancers"]
    assert target["ContainerPort"] == 8080
    assert target["TargetGroupArn"] == {
        "Ref": _logical_id(template, "AWS::ElasticLoadBalancingV2::TargetGroup", "RelayFargate")
    }


def test_task_definition_is_arm64_with_the_fargate_limits(fargate_synthesis: Any) -> None:
    template = _template(fargate_synthesis)
    task = _one(template, "AWS::ECS::TaskDefinition", "RelayFargateTask")
    assert task["RuntimePlatform"] == {
        "CpuArchitecture": "ARM64",
        "OperatingSystemFamily": "LINUX",
    }
    assert (task["Cpu"], task["Memory"]) == ("512", "1024")
    container = _container(template)
    assert container["StopTimeout"] == FARGATE_STOP_TIMEOUT_SECONDS
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    environment = _environment(template)
    assert environment["RELAY_AUTH"] == "keys"
    assert environment["RELAY_MAX_BODY_BYTES"] == str(FARGATE_MAX_BODY_BYTES)
    # uvicorn outlasts the balancer's idle timeout and stops before Fargate's SIGKILL.
    assert float(environment["RELAY_KEEP_ALIVE"]) > ALB_IDLE_TIMEOUT_SECONDS
    assert float(environment["RELAY_GRACEFUL_SHUTDOWN"]) < FARGATE_STOP_TIMEOUT_SECONDS


def test_task_has_the_lambda_relays_environment_but_its_own_server_lines(
    fargate_synthesis: Any, default_synthesis: Any
) -> None:
    (function,) = [
        f["Properties"]
        for f in resources(_template(default_synthesis), "AWS::Lambda::Function").values()
        if "RELAY_AUTH" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    lambda_env = function["Environment"]["Variables"]
    task_env = _environment(_template(fargate_synthesis))
    compute_only = {"RELAY_AUTH", "RELAY_MAX_BODY_BYTES", "PORT"}
    shared = {k: v for k, v in lambda_env.items() if k not in compute_only}
    shared = {k: v for k, v in shared.items() if not k.startswith(("AWS_LAMBDA", "AWS_LWA"))}
    assert {k: task_env[k] for k in shared} == shared


def test_task_role_has_exactly_the_lambda_relays_grants(
    fargate_synthesis: Any, default_synthesis: Any
) -> None:
    """Same statements, same resources (the tables and queue have the same construct paths),
    without the function's own log group and X-Ray, which the task does not use."""
    lambda_only = {"WriteOwnLogs"}
    expected = [
        s
        for s in _statements(_template(default_synthesis), "RelayHandlerRole")
        if s.get("Sid") not in lambda_only and not s["Action"][0].startswith("xray:")
    ]
    assert {a for s in expected for a in s["Action"]} >= {
        "bedrock:InvokeModel",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
    }
    assert _statements(_template(fargate_synthesis), "RelayFargateTaskRole") == expected


def test_task_role_is_for_ecs_tasks_only(fargate_synthesis: Any) -> None:
    role = _one(_template(fargate_synthesis), "AWS::IAM::Role", "RelayFargateTaskRole")
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert "ManagedPolicyArns" not in role


def test_execution_role_pulls_the_image_and_writes_its_log_group_only(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    statements = _statements(template, "RelayFargateTaskExecutionRole")
    actions = sorted(
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    logs = next(s for s in statements if "logs:PutLogEvents" in s["Action"])
    log_group = _logical_id(template, "AWS::Logs::LogGroup", "RelayFargateLogs")
    assert logs["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}


def test_listener_serves_https_with_its_certificate_and_the_hostnames(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    (listener_id, listener), *more = [
        (k, r["Properties"])
        for k, r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items()
    ]
    assert more == []
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    assert listener["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert listener["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (added,) = resources(template, "AWS::ElasticLoadBalancingV2::ListenerCertificate").values()
    certificate = _logical_id(template, "AWS::CertificateManager::Certificate", "GlobalEndpoint")
    assert added["Properties"] == {
        "Certificates": [{"CertificateArn": {"Ref": certificate}}],
        "ListenerArn": {"Ref": listener_id},
    }


def test_the_hostname_points_at_the_load_balancer_and_checks_its_health(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    balancer = _logical_id(template, "AWS::ElasticLoadBalancingV2::LoadBalancer", "RelayFargate")
    (record,) = [
        r["Properties"]
        for r in resources(template, "AWS::Route53::RecordSet").values()
        if r["Properties"]["Name"].startswith(FARGATE_HOSTNAME)
    ]
    assert balancer in json.dumps(record["AliasTarget"]["DNSName"])
    (check,) = resources(template, "AWS::Route53::HealthCheck").values()
    config = check["Properties"]["HealthCheckConfig"]
    assert config["ResourcePath"] == "/health"
    assert config["FullyQualifiedDomainName"] == {"Fn::GetAtt": [balancer, "DNSName"]}


def test_target_group_checks_health_and_drains_open_streams(fargate_synthesis: Any) -> None:
    group = _one(
        _template(fargate_synthesis), "AWS::ElasticLoadBalancingV2::TargetGroup", "RelayFargate"
    )
    assert (group["TargetType"], group["Port"], group["Protocol"]) == ("ip", 8080, "HTTP")
    assert group["HealthCheckPath"] == "/health"
    assert group["Matcher"] == {"HttpCode": "200"}
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == str(FARGATE_DRAIN_SECONDS)


def test_load_balancer_waits_for_streams_drops_bad_headers_and_logs_access(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    balancer = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer", "RelayFargate")
    assert balancer["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == str(ALB_IDLE_TIMEOUT_SECONDS)
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    bucket = _logical_id(template, "AWS::S3::Bucket", "RelayFargateAccessLogs")
    assert attributes["access_logs.s3.bucket"] == {"Ref": bucket}


def test_security_groups_admit_clients_to_the_balancer_and_only_the_balancer_to_tasks(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    balancer_id = _logical_id(template, "AWS::EC2::SecurityGroup", "RelayFargateBalancer")
    task_id = _logical_id(template, "AWS::EC2::SecurityGroup", "RelayFargateTask")
    balancer = template["Resources"][balancer_id]["Properties"]
    task = template["Resources"][task_id]["Properties"]
    assert [
        (r["CidrIp"], r["FromPort"], r["ToPort"]) for r in balancer["SecurityGroupIngress"]
    ] == [("0.0.0.0/0", 443, 443)]
    assert [(r["CidrIp"], r["FromPort"]) for r in task["SecurityGroupEgress"]] == [
        ("0.0.0.0/0", 443)
    ]
    (ingress,) = [
        r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    assert ingress["GroupId"] == {"Fn::GetAtt": [task_id, "GroupId"]}
    assert ingress["SourceSecurityGroupId"] == {"Fn::GetAtt": [balancer_id, "GroupId"]}
    assert (ingress["FromPort"], ingress["ToPort"]) == (8080, 8080)
    (egress,) = [
        r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
    ]
    assert egress["GroupId"] == {"Fn::GetAtt": [balancer_id, "GroupId"]}
    assert egress["DestinationSecurityGroupId"] == {"Fn::GetAtt": [task_id, "GroupId"]}


def test_waf_sits_on_the_load_balancer(fargate_synthesis: Any) -> None:
    template = _template(fargate_synthesis)
    (association,) = [
        r["Properties"] for r in resources(template, "AWS::WAFv2::WebACLAssociation").values()
    ]
    balancer = _logical_id(template, "AWS::ElasticLoadBalancingV2::LoadBalancer", "RelayFargate")
    assert association["ResourceArn"] == {"Ref": balancer}


def test_autoscaling_follows_cpu_and_requests_per_task(fargate_synthesis: Any) -> None:
    template = _template(fargate_synthesis)
    (target,) = [
        r["Properties"]
        for r in resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    policies = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "TargetValue"
        ]
        for p in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert policies == {"ECSServiceAverageCPUUtilization": 60, "ALBRequestCountPerTarget": 3000}


def test_outputs_point_clients_at_the_load_balancer_over_https(fargate_synthesis: Any) -> None:
    outputs = _template(fargate_synthesis)["Outputs"]
    joined = json.dumps(outputs["AnthropicBaseUrlExport"]["Value"])
    assert "export ANTHROPIC_BASE_URL=" in joined
    assert "https://" in joined
    assert "DNSName" in joined
    assert "UsagePlanId" not in outputs


def test_the_image_is_an_arm64_asset_of_exactly_the_docker_context(fargate_synthesis: Any) -> None:
    """Synthesis stages the context and records the image for `cdk deploy` to build: no Docker."""
    manifest = json.loads((fargate_synthesis.outdir / f"{RELAY_PRIMARY}.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["platform"] == "linux/arm64"
    context = fargate_synthesis.outdir / image["source"]["directory"]
    staged = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    for entry in context_entries():
        source = REPO / entry
        expected = (
            {f"{entry}/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py")}
            if source.is_dir()
            else {entry}
        )
        assert expected <= staged, entry
    assert not any("__pycache__" in p or p.startswith((".venv", "node_modules")) for p in staged)


def test_the_lambda_default_has_no_container_resources(default_synthesis: Any) -> None:
    template = _template(default_synthesis)
    assert resources(template, "AWS::ECS::Service") == {}
    assert resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer") == {}


def _load(**overrides: str) -> Any:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    return load_config({**context, **DEFAULT_OVERRIDES, **overrides})


def test_fargate_without_a_certificate_or_http_opt_in_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"relaykit\.fargate\.certificateArn"):
        _load(**{"relaykit.primary.compute": "fargate"})
    config = _load(**{"relaykit.primary.compute": "fargate", "relaykit.fargate.allowHttp": "true"})
    assert config.primary.compute.value == "fargate"


def test_a_memory_size_fargate_does_not_offer_for_the_cpu_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"relaykit\.fargate: .*memoryMib 512 does not go with cpu 1024"
    ):
        _load(**{"relaykit.fargate.cpu": "1024", "relaykit.fargate.memoryMib": "512"})


def test_plain_http_only_when_asked_and_then_on_port_80(tmp_path: Path) -> None:
    """The compute alone in a bare stack (no full synthesis): with `allowHttp` and no
    certificate, one HTTP listener on port 80, open to clients on 80 only, checkov told why."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk.assertions import Template

    from stacks.aws.config import FargateSettings
    from stacks.aws.constructs.fargate import FargateCompute, FargateComputeProps

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Plain", env=Environment(account="123456789012", region="us-east-1"))
    FargateCompute(
        stack,
        "Fargate",
        FargateComputeProps(
            name="trial-relay",
            settings=FargateSettings(allow_http=True),
            environment=(),
            description="A trial relay",
            role_name="trial-relay-role",
        ),
    )
    template = Template.from_stack(stack).to_json()
    (listener,) = resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    assert (listener["Properties"]["Port"], listener["Properties"]["Protocol"]) == (80, "HTTP")
    skipped = {s["id"] for s in listener["Metadata"]["checkov"]["skip"]}
    assert skipped == {"CKV_AWS_2", "CKV_AWS_103"}
    (group,) = [
        g["Properties"]
        for k, g in resources(template, "AWS::EC2::SecurityGroup").items()
        if k.startswith("FargateBalancer")
    ]
    assert [r["FromPort"] for r in group["SecurityGroupIngress"]] == [80]


def test_a_fargate_relay_has_its_alarms_and_emits_the_metrics_they_read(
    fargate_synthesis: Any,
) -> None:
    template = _template(fargate_synthesis)
    alarms = {
        logical_id: r["Properties"]
        for logical_id, r in resources(template, "AWS::CloudWatch::Alarm").items()
    }

    def one(name: str) -> dict[str, Any]:
        (found,) = [v for k, v in alarms.items() if k.startswith(f"Alarms{name}")]
        return found

    # Compute-independent: cost, latency, the key table and the usage spool.
    for name in ("DailyCost", "P99Latency", "TableThrottles", "UsageSpooled", "UsageDeadLetters"):
        assert [k for k in alarms if k.startswith(f"Alarms{name}")], name
    # None of the Lambda relay's function alarms: there is no function.
    assert not [k for k in alarms if k.startswith(("AlarmsRelay", "AlarmsAuthorizer"))]
    # The success rate counts the load balancer's requests and both kinds of 5xx.
    success = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in one("SuccessRate")["Metrics"]
        if "MetricStat" in m
    }
    assert set(success.values()) == {
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    }
    unhealthy = one("UnhealthyTasks")
    assert (unhealthy["Namespace"], unhealthy["MetricName"]) == (
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
    )
    cpu = one("TasksCpu")
    assert (cpu["Namespace"], cpu["MetricName"], cpu["Threshold"]) == (
        "AWS/ECS",
        "CPUUtilization",
        90,
    )
    topic = next(iter(resources(template, "AWS::SNS::Topic")))
    assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms.values())
    assert "AlarmTopicArn" in template["Outputs"]
    # The alarms and the dashboard read the relay's own metrics (EMF lines in its logs).
    assert _environment(template)["RELAY_METRICS"] == "emf"
