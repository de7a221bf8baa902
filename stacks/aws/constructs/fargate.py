"""The relay on ECS Fargate: arm64 tasks behind an Application Load Balancer, in a VPC without NAT.

The second compute beside Lambda (`compute: "fargate"` per relay): the same relay, environment
and grants (`Relay.relay_environment`, `Relay.grant_relay`), served by uvicorn in the container
(Dockerfile, `python -m relaykit.container`) with the limits the load balancer and Fargate allow
instead of Lambda's 6 MB body and 15-minute stream.

Network: public subnets in two zones and no NAT gateway. Tasks get public addresses to reach
Bedrock, DynamoDB, SQS, CloudWatch Logs and ECR on their public endpoints, and accept traffic only
from the load balancer's security group. Interface VPC endpoints for those five services would
instead cost $0.01 an hour per endpoint and zone, $73 a month for two zones, against $3.65 a month
per task for a public IPv4 address: endpoints pay off above 20 tasks (`endpoint_break_even_tasks`
in stacks/aws/compute_cost.py), far beyond the default range of two to six.

Draining: on deploy or scale-in the load balancer stops sending new requests to a task and lets
open streams run for the deregistration delay; then ECS sends SIGTERM, uvicorn stops accepting and
gives open requests the graceful-shutdown time, inside Fargate's 120-second stop timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.aws.bundling import PORT
from stacks.aws.compute_limits import (
    ALB_IDLE_TIMEOUT_SECONDS,
    FARGATE_DRAIN_SECONDS,
    FARGATE_GRACEFUL_SHUTDOWN_SECONDS,
    FARGATE_KEEP_ALIVE_SECONDS,
    FARGATE_MAX_BODY_BYTES,
    FARGATE_STOP_TIMEOUT_SECONDS,
)
from stacks.aws.config import FargateSettings
from stacks.aws.constructs.fargate_image import relay_image
from stacks.aws.constructs.function import retention
from stacks.aws.constructs.global_endpoint import HEALTH_PATH, RegionalTarget, TargetFactory
from stacks.aws.nag import acknowledge

# Open streams keep running this long once a task leaves the target group.
DEREGISTRATION_DELAY = Duration.seconds(FARGATE_DRAIN_SECONDS)


def skip_checkov(construct: Construct, *checks: tuple[str, str]) -> None:
    """Skip checkov checks on the construct's CloudFormation resource, each with its reason."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.add_metadata("checkov", {"skip": [{"id": i, "comment": c} for i, c in checks]})


@dataclass(frozen=True)
class FargateComputeProps:
    name: str
    settings: FargateSettings
    # The relay's environment (Relay.relay_environment), without this compute's own lines.
    environment: tuple[tuple[str, str], ...]
    description: str
    # The task role's fixed name (config.relay_role_name), as the Lambda relay's role has.
    role_name: str
    # The HTTPS certificate comes from `relaykit.domain` (load_balancer_target adds it) when
    # the settings name none.
    certificate_from_domain: bool = False


class FargateCompute(Construct):
    """Provisions `vpc` (public subnets, no NAT), `cluster`, `task_definition` (arm64) with
    `task_role` (callers grant the relay's permissions to it), `service` with autoscaling,
    `load_balancer` with `listener` (HTTPS, or HTTP when allowed) and `target_group`, and
    `access_logs` (the load balancer's S3 bucket)."""

    def __init__(self, scope: Construct, construct_id: str, props: FargateComputeProps) -> None:
        super().__init__(scope, construct_id)
        fargate = props.settings
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                )
            ],
        )
        acknowledge(
            self.vpc,
            "The VPC holds only the relay's tasks and load balancer; the load balancer's access "
            "logs record every request, so flow logs (CloudWatch ingestion at $0.50/GB) would "
            "add cost, not insight.",
            "AwsSolutions-VPC7",
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.DISABLED,
        )
        insights = (
            "Container Insights bills its metrics per task and service; the service's CPU and "
            "memory metrics (free) and the load balancer's metrics drive scaling and alarms."
        )
        acknowledge(self.cluster, insights, "AwsSolutions-ECS4")
        skip_checkov(self.cluster, ("CKV_AWS_65", insights))
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=props.description,
            role_name=props.role_name,
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=fargate.cpu,
            memory_limit_mib=fargate.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(fargate.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        environment = {
            **dict(props.environment),
            "PORT": str(PORT),
            # The relay checks keys against its table itself: there is no API Gateway in front.
            "RELAY_AUTH": "keys",
            # Metrics as EMF lines on stdout: the awslogs driver sends them with PutLogEvents,
            # and CloudWatch extracts them as from Lambda's logs (the dashboard and alarms).
            "RELAY_METRICS": "emf",
            "RELAY_MAX_BODY_BYTES": str(FARGATE_MAX_BODY_BYTES),
            "RELAY_KEEP_ALIVE": str(FARGATE_KEEP_ALIVE_SECONDS),
            "RELAY_GRACEFUL_SHUTDOWN": str(FARGATE_GRACEFUL_SHUTDOWN_SECONDS),
        }
        self.container = self.task_definition.add_container(
            "Relay",
            image=ecs.ContainerImage.from_docker_image_asset(relay_image(self, "Image")),
            environment=dict(sorted(environment.items())),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="relay", log_group=self.log_group),
            port_mappings=[ecs.PortMapping(container_port=PORT)],
            stop_timeout=Duration.seconds(FARGATE_STOP_TIMEOUT_SECONDS),
            readonly_root_filesystem=True,
        )
        acknowledge(
            self.task_definition,
            "The environment holds table names, queue URLs and model aliases; the relay's "
            "keys live hashed in its table, never in the task definition.",
            "AwsSolutions-ECS2",
        )
        acknowledge(
            self.task_definition,
            "ECR's GetAuthorizationToken supports no resource-level permissions; the execution "
            "role pulls only this image's repository and writes only this log group.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        self._load_balancer(props)
        self._service(props)

    def _load_balancer(self, props: FargateComputeProps) -> None:
        fargate = props.settings
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # ALB access logs are delivered only to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(fargate.log_retention_days))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        logs_of_logs = (
            "This bucket holds the load balancer's access logs; logging access to it again "
            "would log the logs."
        )
        acknowledge(self.access_logs, logs_of_logs, "AwsSolutions-S1")
        skip_checkov(
            self.access_logs,
            ("CKV_AWS_18", logs_of_logs),
            (
                "CKV_AWS_21",
                "Access logs are written once and expire with the retention; versions would "
                "only keep expired logs.",
            ),
        )
        self.balancer_group = ec2.SecurityGroup(
            self,
            "BalancerSecurityGroup",
            vpc=self.vpc,
            description=f"{props.name}: clients to the load balancer of the relay",
            allow_all_outbound=False,
        )
        https = fargate.certificate_arn is not None or props.certificate_from_domain
        self.scheme = "https" if https else "http"
        port = 443 if https else 80
        self.balancer_group.add_ingress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "Relay clients (keys are checked per request)"
        )
        acknowledge(
            self.balancer_group,
            "The relay is a public API endpoint for SDK clients; every request needs a relay "
            "key, and WAF (relaykit.waf) restricts sources when configured.",
            "AwsSolutions-EC23",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            security_group=self.balancer_group,
            idle_timeout=Duration.seconds(ALB_IDLE_TIMEOUT_SECONDS),
            drop_invalid_header_fields=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        )
        self.load_balancer.log_access_logs(self.access_logs, prefix=props.name)
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=self.vpc,
            port=PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=DEREGISTRATION_DELAY,
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        if https:
            certificates = (
                [acm.Certificate.from_certificate_arn(self, "Certificate", fargate.certificate_arn)]
                if fargate.certificate_arn is not None
                else []
            )
            self.listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=certificates,
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
                open=False,
            )
        else:
            self.listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            plain = (
                "Plain HTTP was asked for (relaykit.fargate.allowHttp=true), for a trial or "
                "behind another TLS front."
            )
            skip_checkov(self.listener, ("CKV_AWS_2", plain), ("CKV_AWS_103", plain))

    def _service(self, props: FargateComputeProps) -> None:
        fargate = props.settings
        self.task_group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=self.vpc,
            description=f"{props.name}: tasks of the relay, reached only from its load balancer",
            allow_all_outbound=False,
        )
        self.task_group.add_ingress_rule(
            self.balancer_group, ec2.Port.tcp(PORT), "Requests and health checks from the ALB"
        )
        self.balancer_group.add_egress_rule(
            self.task_group, ec2.Port.tcp(PORT), "Requests and health checks to the tasks"
        )
        # Bedrock, DynamoDB, SQS, CloudWatch Logs and ECR (and S3 for its layers) on their
        # public HTTPS endpoints; DNS goes to the VPC resolver, which security groups ignore.
        self.task_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS service endpoints over HTTPS"
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=fargate.desired_tasks,
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.task_group],
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=Duration.seconds(60),
        )
        self.target_group.add_target(
            self.service.load_balancer_target(container_name="Relay", container_port=PORT)
        )
        self.scaling = self.service.auto_scale_task_count(
            min_capacity=fargate.min_tasks, max_capacity=fargate.max_tasks
        )
        self.scaling.scale_on_cpu_utilization(
            "Cpu", target_utilization_percent=fargate.cpu_target_percent
        )
        self.scaling.scale_on_request_count(
            "Requests",
            requests_per_target=fargate.requests_per_task_per_minute,
            target_group=self.target_group,
        )


class LoadBalancerTarget:
    """`relaykit.domain`'s regional target for a Fargate relay: the hostname's certificate on
    the HTTPS listener, an alias record to the load balancer, health checked at its own name."""

    def __init__(self, compute: FargateCompute, certificate: acm.ICertificate) -> None:
        compute.listener.add_certificates(
            "DomainCertificate", [elbv2.ListenerCertificate.from_certificate_manager(certificate)]
        )
        self._balancer = compute.load_balancer

    @property
    def record_target(self) -> route53.RecordTarget:
        return route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self._balancer))

    @property
    def health_host(self) -> str:
        return self._balancer.load_balancer_dns_name

    @property
    def health_path(self) -> str:
        return HEALTH_PATH


def load_balancer_target(compute: FargateCompute) -> TargetFactory:
    def build(scope: Construct, certificate: acm.ICertificate) -> RegionalTarget:
        return LoadBalancerTarget(compute, certificate)

    return build
