"""The deployment's typed configuration, parsed once from the CDK context.

Defaults live in `cdk.json` under the `relaykit` key; any leaf can be overridden on the command
line with a dotted key, e.g. `cdk synth -c relaykit.hongKong.enabled=true` or
`-c relaykit.models=claude-haiku-4-5`. Values given with `-c` are strings: JSON is tried first
(numbers, booleans, lists), then a comma-separated list where a list is expected.

Everything below `load_config` takes these frozen models and never reads the context itself.
Errors name the dotted key and say how to fix it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from relay.aliases import AliasError, parse_aliases
from relay.catalog import DEFAULT_MODEL, Catalog, Model, Routing, UnknownModelError
from relay.catalog_extra import CatalogExtraError, extend
from relay.targets import BedrockTarget, NoRouteError, bedrock_target
from stacks.aws.failover import (
    FailoverError,
    VertexAccess,
    failover_environment,
    fallback_chains,
    fallback_targets,
    vertex_access,
)

CONTEXT_KEY = "relaykit"

HONG_KONG = "ap-east-1"
# Regions where Amazon Bedrock has no runtime endpoint at all; a relay there must call another.
REGIONS_WITHOUT_BEDROCK = frozenset({HONG_KONG})
# Regions an account must enable before it can deploy there (Settings > AWS Regions).
OPT_IN_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_RELAY_NAME = re.compile(r"^[a-z][a-z0-9]{0,19}$")
# Bedrock regions a relay in a region without Bedrock calls when none is configured, nearest
# first: for Hong Kong, Taipei, Singapore, Tokyo.
_DEFAULT_CANDIDATES: dict[str, tuple[str, ...]] = {
    HONG_KONG: ("ap-east-2", "ap-southeast-1", "ap-northeast-1")
}
_CIDR = re.compile(r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$|^[0-9a-fA-F:]+/\d{1,3}$")


class ConfigError(ValueError):
    """The `relaykit` context is invalid; the message names the key and the fix."""


class Architecture(StrEnum):
    ARM_64 = "arm64"
    X86_64 = "x86_64"


class Compute(StrEnum):
    """What runs a relay: Lambda behind API Gateway (no idle cost), or Fargate tasks behind an
    Application Load Balancer (no 6 MB body or 15-minute stream ceiling; cheaper at steady load,
    `relaykit cost --crossover`)."""

    LAMBDA = "lambda"
    FARGATE = "fargate"


class _Section(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


def _check_region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"'{value}' is not an AWS region code such as 'us-east-1'")
    return value


def _check_optional_region(value: str | None) -> str | None:
    return None if value is None else _check_region(value)


# Fargate's CPU units and the memory (MiB) each allows
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
FARGATE_MEMORY_MIB = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}


class FargateSettings(_Section):
    """The relay's Fargate service, for relays with `compute: "fargate"`.

    Defaults: two arm64 tasks of 0.5 vCPU and 1 GiB ($28.84 a month together, us-east-1), so a
    task can be replaced while the other serves; each carries a couple of hundred concurrent
    streams (bench/concurrent_slow_calls.py), and autoscaling adds tasks on CPU or requests.
    The load balancer listens on HTTPS with `certificate_arn` (an ACM certificate in the
    relay's region); plain HTTP only with `allow_http`, for a trial behind another TLS front.
    """

    cpu: int = 512
    memory_mib: int = 1024
    desired_tasks: int = Field(default=2, ge=1)
    min_tasks: int = Field(default=2, ge=1)
    max_tasks: int = Field(default=6, ge=1)
    # Scale out above this average CPU, or above this many requests per task per minute.
    cpu_target_percent: int = Field(default=60, ge=10, le=95)
    requests_per_task_per_minute: int = Field(default=3000, ge=1)
    certificate_arn: str | None = None
    allow_http: bool = False
    log_retention_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _sizes(self) -> FargateSettings:
        allowed = FARGATE_MEMORY_MIB.get(self.cpu)
        if allowed is None:
            raise ValueError(
                f"cpu {self.cpu} is not a Fargate size; use one of {sorted(FARGATE_MEMORY_MIB)}"
            )
        if self.memory_mib not in allowed:
            raise ValueError(
                f"memoryMib {self.memory_mib} does not go with cpu {self.cpu}; "
                f"use {allowed[0]} to {allowed[-1]} in steps Fargate allows"
            )
        if not self.min_tasks <= self.desired_tasks <= self.max_tasks:
            raise ValueError("minTasks <= desiredTasks <= maxTasks must hold")
        return self


class PrimaryRelay(_Section):
    """The main relay: API Gateway and Lambda in `region`, calling Bedrock in `bedrock_region`."""

    region: str = "us-east-1"
    # None: the relay's own region.
    bedrock_region: str | None = None
    compute: Compute = Compute.LAMBDA

    _region = field_validator("region")(_check_region)

    _bedrock = field_validator("bedrock_region")(_check_optional_region)


class HongKongRelay(_Section):
    """A relay in Hong Kong (ap-east-1), which has no Bedrock endpoint of its own."""

    enabled: bool = False
    compute: Compute = Compute.LAMBDA
    # None: the first of `bedrock_region_candidates` that serves every configured model.
    bedrock_region: str | None = None
    bedrock_region_candidates: tuple[str, ...] = _DEFAULT_CANDIDATES[HONG_KONG]

    _bedrock = field_validator("bedrock_region")(_check_optional_region)

    @field_validator("bedrock_region_candidates")
    @classmethod
    def _candidates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('list at least one region, e.g. ["ap-northeast-1"]')
        return tuple(_check_region(v) for v in value)


class RelayEntry(_Section):
    """One regional relay of `relaykit.relays`: API Gateway and Lambda in `region`, calling
    Bedrock in `bedrock_region`, or in the first of `bedrock_region_candidates` that serves every
    configured model.

    `name` (lowercase letters and digits) names the relay's resources and its stack,
    `<prefix>-Relay-<Name>`; the names `primary` and `hongkong` keep the stack ids of the earlier
    `primary` and `hongKong` blocks, so a deployment moves to the list without replacing them.
    """

    name: str
    region: str
    # None (and no candidates): the relay's own region.
    bedrock_region: str | None = None
    # None: the region's defaults (Taipei, Singapore, Tokyo for ap-east-1), else none.
    bedrock_region_candidates: tuple[str, ...] | None = None
    # None: `relaykit.routing`.
    routing: Routing | None = None
    # What runs the relay: Lambda behind API Gateway, or Fargate tasks behind a load balancer.
    compute: Compute = Compute.LAMBDA
    # The Fargate service's size and certificate; None: `relaykit.fargate`.
    fargate: FargateSettings | None = None

    _region = field_validator("region")(_check_region)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _RELAY_NAME.match(value):
            raise ValueError(
                f"'{value}': lowercase letters and digits, starting with a letter, at most 20"
            )
        return value

    _bedrock = field_validator("bedrock_region")(_check_optional_region)

    @field_validator("bedrock_region_candidates")
    @classmethod
    def _candidates(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(_check_region(v) for v in value)

    @model_validator(mode="after")
    def _one_choice(self) -> RelayEntry:
        if self.bedrock_region is not None and self.bedrock_region_candidates:
            raise ValueError("give bedrockRegion or bedrockRegionCandidates, not both")
        return self

    @property
    def candidates(self) -> tuple[str, ...]:
        """Bedrock regions to choose from, nearest first; empty: the relay's own region."""
        if self.bedrock_region_candidates is not None:
            return self.bedrock_region_candidates
        return _DEFAULT_CANDIDATES.get(self.region, ())


class DomainRouting(StrEnum):
    LATENCY = "latency"
    GEOLOCATION = "geolocation"


# Route 53's continent codes (GeoLocation ContinentCode).
CONTINENTS = frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
_LOCATION = re.compile(
    r"^(continent:[A-Z]{2}|country:[A-Z]{2}|subdivision:[A-Z]{2}-[A-Z0-9]{1,3})$"
)


class Domain(_Section):
    """One hostname for every relay: per region an ACM certificate (DNS-validated in the hosted
    zone), an API Gateway regional custom domain, a Route 53 health check on the relay's /health
    and a record of `name` in that region.

    `routing`: `latency` sends each caller to the relay with the lowest latency; `geolocation`
    to the relay whose `locations` match the caller ("continent:AS", "country:HK",
    "subdivision:US-CA"), and everyone else to `default_relay` (the first relay if unset). A
    relay whose health check fails drops out of the answers.
    """

    name: str
    hosted_zone_id: str
    hosted_zone_name: str
    routing: DomainRouting = DomainRouting.LATENCY
    # Relay name -> the places it serves, for `geolocation`.
    locations: dict[str, tuple[str, ...]] = {}
    default_relay: str | None = None

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]{1,32}", value):
            raise ValueError(f"'{value}' is not a Route 53 hosted zone id such as 'Z0123456789ABC'")
        return value

    @field_validator("name", "hosted_zone_name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        value = value.rstrip(".").lower()
        if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value):
            raise ValueError(f"'{value}' is not a DNS name such as 'claude.example.com'")
        return value

    @field_validator("locations")
    @classmethod
    def _locations(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        listed = [loc for places in value.values() for loc in places]
        bad = [loc for loc in listed if not _LOCATION.match(loc)]
        bad += [
            loc
            for loc in listed
            if loc.startswith("continent:") and loc.split(":")[1] not in CONTINENTS
        ]
        if bad:
            raise ValueError(
                f"not locations: {bad}; write 'continent:AS' (one of "
                f"{', '.join(sorted(CONTINENTS))}), 'country:HK' or 'subdivision:US-CA'"
            )
        repeated = sorted({loc for loc in listed if listed.count(loc) > 1})
        if repeated:
            raise ValueError(f"each location goes to one relay: {', '.join(repeated)} repeated")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Domain:
        if self.name != self.hosted_zone_name and not self.name.endswith(
            "." + self.hosted_zone_name
        ):
            raise ValueError(f"name '{self.name}' is not in the zone '{self.hosted_zone_name}'")
        if self.routing is DomainRouting.LATENCY and (self.locations or self.default_relay):
            raise ValueError('locations and defaultRelay need routing "geolocation"')
        if self.routing is DomainRouting.GEOLOCATION and not self.locations:
            raise ValueError('geolocation routing needs locations, e.g. {"hk": ["continent:AS"]}')
        return self


class Vertex(_Section):
    """Claude on Vertex AI for the relays' fallback chains (`fallbacks` steps "vertex").

    `credentials` is the Workload Identity Federation credential configuration the GCP program
    outputs (`federationCredentialConfig`, an `external_account` JSON object, no secret), or the
    path of a file holding it or the whole `pulumi stack output --json`.
    """

    project: str
    region: str = "global"
    credentials: dict[str, Any] | str


class UseCaseForm(_Section):
    """Anthropic's one-time use-case form (PutUseCaseForModelAccess); submitted if none is on file.

    Leave `company_name` empty if the account (or its organisation's management account) has
    already submitted the form; the deployment then only checks that it is on file.
    """

    company_name: str = ""
    company_website: str = ""
    intended_users: str = "0"
    industry_option: str = ""
    other_industry_option: str = ""
    use_cases: str = ""

    @model_validator(mode="after")
    def _complete(self) -> UseCaseForm:
        if self.company_name and not (self.company_website and self.industry_option):
            raise ValueError(
                "companyWebsite and industryOption are required once companyName is set"
            )
        return self


class ModelAccess(_Section):
    """Marketplace agreements for the configured models, made by a custom resource."""

    enabled: bool = True
    # How long the custom resource waits for AUTHORIZED (the subscription takes up to 15 min).
    wait_seconds: int = Field(default=600, ge=30, le=840)
    use_case: UseCaseForm = UseCaseForm()


class InvocationLogging(_Section):
    """Bedrock model invocation logging to a KMS-encrypted CloudWatch log group.

    The logs hold prompts and completions: keep retention short and access narrow. The setting
    is one per account and region: a different configuration already there is refused unless
    `take_over` is set, and is then restored when the stack is deleted.
    """

    enabled: bool = True
    retention_days: int = Field(default=30, ge=1)
    take_over: bool = False


class Guardrail(_Section):
    """A PII guardrail the relay applies to every call (anonymises phones, ids, e-mails, cards).

    Off by default for its price: Bedrock's sensitive-information filter costs $0.10 per 1,000
    text units (1,000 characters), on the prompt and on the reply; a typical Haiku 4.5 request
    (400 tokens in, 150 out) pays about $0.0003 for it, a quarter of its token cost.
    """

    enabled: bool = False


class ApplicationProfiles(_Section):
    """Application inference profiles per model, tagged for cost allocation.

    Off by default: the relay invokes the system inference profiles and meters cost per key
    itself. Turn on for other applications in the account, which invoke the profiles (their ARNs
    are outputs and in the InvokeModels policy) to see their spend by the deployment's tag.
    """

    enabled: bool = False
    # Regions whose CloudFormation has no AWS::Bedrock::ApplicationInferenceProfile yet (CDK's
    # template validation reports it as F3006); no profiles are created there.
    unavailable_regions: tuple[str, ...] = ("ap-east-2",)


class Cache(_Section):
    """A DynamoDB table the relay may use to cache responses (TTL-expired)."""

    enabled: bool = True


class Waf(_Section):
    """AWS WAF in front of each relay: a per-IP rate limit and optional allow-lists.

    Off by default for its price ($5 a month per web ACL, $1 per rule, $0.60 per million
    requests): every key is already throttled by the usage plan and the stage, and checked by the
    authorizer. Turn it on for IP or country allow-lists (the Hong Kong relay requires the
    country list).
    """

    enabled: bool = False
    # Requests per 5 minutes per client IP before WAF blocks it: flood protection only, high
    # enough for an office behind one NAT address (each key is throttled by the usage plan).
    rate_limit: int = Field(default=20_000, ge=10)
    allowed_cidrs: tuple[str, ...] = ()
    # ISO 3166-1 alpha-2 codes; empty means any country. The Hong Kong relay requires a list
    # (or `acknowledge_any_country`): the operator answers for where the models are used.
    allowed_countries: tuple[str, ...] = ()
    acknowledge_any_country: bool = False

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _CIDR.match(v)]
        if bad:
            raise ValueError(f"not CIDR blocks: {bad}; write e.g. '203.0.113.0/24'")
        return value

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _COUNTRY.match(v)]
        if bad:
            raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {bad}; write e.g. 'HK'")
        return value


class StageThrottle(_Section):
    """The stage's throttle for all keys together; its burst defaults to the relay's reserved
    concurrency, so a burst never queues for instances that are not there."""

    rate_limit: float = Field(default=25, gt=0)
    # None: the relay's reserved concurrency.
    burst_limit: int | None = Field(default=None, ge=1)


class Metrics(_Section):
    """The relay's CloudWatch metrics. `per_key` adds a `model`+`key` dimension set: one custom
    metric per key, model and metric name, $0.30 a month each (10 metrics x 50 keys = $150)."""

    per_key: bool = False


class UsagePlan(_Section):
    """Per-key throttle and quota that API Gateway enforces, for every relay key registered in
    the plan with `relaykit keys create --usage-plan` (the stack itself creates no key)."""

    rate_limit: float = Field(default=20, gt=0)
    burst_limit: int = Field(default=40, ge=1)
    quota_per_day: int = Field(default=20_000, ge=1)


class ApiGatewayLogging(_Section):
    """API Gateway access and execution logs for the relay stages.

    REST API logging needs the region's account-wide API Gateway CloudWatch role
    (`aws apigateway get-account`): in a shared account it is usually set already. Only with
    `create_account_role` does the stack set it (an `AWS::ApiGateway::Account`, retained on
    destroy so other APIs keep logging); that replaces any role set before.
    """

    enabled: bool = True
    create_account_role: bool = False


class Alarms(_Section):
    """Alarm thresholds and who is told.

    `emails` receive the alarms, the budget's notifications and the cost anomaly alerts;
    synthesis refuses an empty list unless `acknowledge_no_recipients` says that is meant.
    """

    emails: tuple[str, ...] = ()
    acknowledge_no_recipients: bool = False
    success_rate_percent: float = Field(default=95, gt=0, le=100)
    p99_latency_ms: int = Field(default=5000, ge=1)
    # The daily cost alarm fires above this share of the daily budget.
    cost_alarm_percent: float = Field(default=120, gt=0)

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _EMAIL.match(v)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return value


class Budget(_Section):
    """An AWS Budget on Bedrock spend, a cost anomaly alert, and the daily figure the relay's
    cost alarm compares with."""

    monthly_usd: float = Field(default=100, gt=0)
    # Cost Explorer SERVICE values the budget counts. Amazon Bedrock's own charges (guardrails,
    # first-party models) bill as "Amazon Bedrock"; Anthropic's models are sold through AWS
    # Marketplace and bill under a service name per model, so no fixed list of names keeps up.
    services: tuple[str, ...] = ("Amazon Bedrock",)
    # Also count every charge whose billing entity is AWS Marketplace: that catches each Claude
    # model whatever its service name, and also the account's other Marketplace subscriptions.
    include_marketplace: bool = True
    # AWS Cost Anomaly Detection: an e-mail when the day's spend is anomalous by more than the
    # daily budget. An account holds one AWS-services monitor; give its ARN to reuse it.
    anomaly_detection: bool = True
    anomaly_monitor_arn: str | None = None

    @property
    def daily_usd(self) -> float:
        return self.monthly_usd / 30


class Encryption(_Section):
    """Customer-managed KMS keys ($1 a month each) for the alarm topics and the invocation logs.

    Off by default: CloudWatch Logs encrypts log groups at rest without one, and alarm messages
    carry alarm names and thresholds, no data. Turn on to control the keys (key policy, audit of
    every decryption); the invocation logs hold prompts and completions.
    """

    customer_managed_keys: bool = False


class LambdaSettings(_Section):
    """The relay function and the AWS Lambda Web Adapter layer that streams its responses."""

    architecture: Architecture = Architecture.ARM_64
    # The relay waits on Bedrock for most of a request and is billed per GB-second while it
    # does: 512 MB halves 1024 MB's duration cost (docs/aws.md's cost table).
    memory_mb: int = Field(default=512, ge=128, le=10240)
    # The layer ARN is arn:{partition}:lambda:{region}:{account}:layer:{name}:{version}, where
    # name is LambdaAdapterLayerArm64 or LambdaAdapterLayerX86
    # (github.com/aws/aws-lambda-web-adapter, "Zip packages").
    web_adapter_account: str = "753240598075"
    web_adapter_version: int = Field(default=27, ge=1)
    log_retention_days: int = Field(default=30, ge=1)
    # The relay's reserved concurrency: its ceiling, and capacity no other function takes. A
    # stream holds an instance for its whole reply (up to 15 minutes), so this bounds the
    # requests in flight: Bedrock's requests-per-minute quota for the configured models times
    # a reply's seconds / 60 (e.g. 250 RPM at 12 s is 50). The account's unreserved concurrency
    # must stay at 100 or more, so accounts still at a low concurrency quota lower this.
    reserved_concurrency: int = Field(default=50, ge=1)

    @field_validator("web_adapter_account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not _ACCOUNT.match(value):
            raise ValueError("a 12-digit AWS account id")
        return value


class RelayKitSettings(_Section):
    """The `relaykit` context object, as written in cdk.json."""

    account: str | None = None
    prefix: str = "ClaudeRelay"
    # Catalog aliases; empty means the catalog's default model.
    models: tuple[str, ...] = ()
    # Models added to or overridden in the catalog (relay/catalog_extra.py), keyed by alias; the
    # relay, its IAM grants and `relaykit models` read the same block (RELAY_CATALOG_EXTRA).
    catalog_extra: dict[str, Any] = {}
    # Unserved model names (patterns, `*` wildcards) -> a served model (RELAY_MODEL_ALIASES).
    model_aliases: dict[str, str] = {}
    # Unserved claude-opus-*/-sonnet-*/-haiku-* ids and opus/sonnet/haiku go to the newest
    # served model of the family (RELAY_FAMILY_ALIASES).
    family_aliases: bool = True
    routing: Routing = Routing.GLOBAL
    # The regional relays, the first one home to the Observability stack. None: the earlier
    # `primary` and `hongKong` blocks, translated into this list (giving both styles is refused).
    relays: tuple[RelayEntry, ...] | None = None
    primary: PrimaryRelay = PrimaryRelay()
    hong_kong: HongKongRelay = HongKongRelay()
    # One hostname across the relays; None: each relay's execute-api URL is its endpoint.
    domain: Domain | None = None
    vertex: Vertex | None = None
    # Per model alias, the routes tried after the primary one (RELAY_FALLBACKS' syntax).
    fallbacks: dict[str, tuple[str, ...]] = {}
    model_access: ModelAccess = ModelAccess()
    invocation_logging: InvocationLogging = InvocationLogging()
    guardrail: Guardrail = Guardrail()
    encryption: Encryption = Encryption()
    application_profiles: ApplicationProfiles = ApplicationProfiles()
    cache: Cache = Cache()
    waf: Waf = Waf()
    usage_plan: UsagePlan = UsagePlan()
    stage_throttle: StageThrottle = StageThrottle()
    metrics: Metrics = Metrics()
    api_gateway_logging: ApiGatewayLogging = ApiGatewayLogging()
    alarms: Alarms = Alarms()
    budget: Budget = Budget()
    lambda_: LambdaSettings = Field(default=LambdaSettings(), alias="lambda")
    # The Fargate relays' service (size, certificate), unless a relay entry sets its own.
    fargate: FargateSettings = FargateSettings()
    metrics_namespace: str = "ClaudeRelay"
    stage_name: str = "prod"
    # False for targets without the CDK bootstrap SSM parameter rule (the moto rehearsal).
    bootstrap_version_rule: bool = True

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("a 12-digit AWS account id, or null to use the CLI's account")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,30}", value):
            raise ValueError("letters and digits, starting with a letter, at most 31")
        return value

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("relays")
    @classmethod
    def _relays(cls, value: tuple[RelayEntry, ...] | None) -> tuple[RelayEntry, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError(
                'list at least one relay, e.g. [{"name": "us", "region": "us-east-1"}]'
            )
        for field, what in (("name", "names"), ("region", "regions")):
            seen = [getattr(e, field) for e in value]
            repeated = sorted({v for v in seen if seen.count(v) > 1})
            if repeated:
                raise ValueError(f"relay {what} must differ: {', '.join(repeated)} is repeated")
        return value

    @model_validator(mode="after")
    def _one_style(self) -> RelayKitSettings:
        legacy = {"primary", "hong_kong"} & self.model_fields_set
        if self.relays is not None and legacy:
            blocks = " and ".join(f"{CONTEXT_KEY}.{to_camel(k)}" for k in sorted(legacy))
            raise ValueError(
                f"relays replaces {blocks}: describe every relay in {CONTEXT_KEY}.relays and "
                f"remove {blocks} (docs/aws.md, 'Relays')"
            )
        return self

    def relay_entries(self) -> tuple[tuple[str, RelayEntry], ...]:
        """Each relay with the context key its errors name: `relays`, or the translated blocks."""
        if self.relays is not None:
            return tuple((f"{CONTEXT_KEY}.relays[{i}]", e) for i, e in enumerate(self.relays))
        primary = RelayEntry(
            name="primary",
            region=self.primary.region,
            bedrock_region=self.primary.bedrock_region,
            bedrock_region_candidates=(),
            compute=self.primary.compute,
        )
        entries = [(f"{CONTEXT_KEY}.primary", primary)]
        if self.hong_kong.enabled:
            hong_kong = RelayEntry(
                name="hongkong",
                region=HONG_KONG,
                bedrock_region=self.hong_kong.bedrock_region,
                bedrock_region_candidates=None
                if self.hong_kong.bedrock_region
                else self.hong_kong.bedrock_region_candidates,
                compute=self.hong_kong.compute,
            )
            entries.append((f"{CONTEXT_KEY}.hongKong", hong_kong))
        return tuple(entries)


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


@dataclass(frozen=True)
class RelaySite:
    """One relay deployment: where it runs, which Bedrock region it calls, and how."""

    name: str
    region: str
    bedrock_region: str
    targets: tuple[BedrockTarget, ...]
    # Why this Bedrock region (shown in the stack outputs).
    bedrock_region_reason: str
    routing: Routing
    # Bedrock routes of `relaykit.fallbacks`' "bedrock:" steps, which the relay may invoke too.
    fallback_targets: tuple[BedrockTarget, ...] = ()
    compute: Compute = Compute.LAMBDA
    # The Fargate service of a relay with compute FARGATE.
    fargate: FargateSettings = dataclasses.field(default_factory=FargateSettings)

    @property
    def api_name(self) -> str:
        return f"{self.name}-relay"

    @property
    def stack_label(self) -> str:
        """The relay's part of its stack id, `<prefix>-Relay-<label>`."""
        return _LEGACY_STACK_LABELS.get(self.name, self.name.title())


# IAM role names are at most 64 characters.
_ROLE_NAME_LIMIT = 64


def relay_role_name(prefix: str, site: RelaySite) -> str:
    """The relay's IAM role name: fixed, so Workload Identity Federation on GCP can admit it
    (`relaykit connect gcp-config`), and unique per account across regions."""
    return f"{prefix}-{site.name}-relay-{site.region}"


# Stack ids of the relays the `primary` and `hongKong` blocks described (deployed stacks keep them).
_LEGACY_STACK_LABELS = {"primary": "Primary", "hongkong": "HongKong"}


@dataclass(frozen=True)
class RelayKitConfig:
    """The validated configuration every stack and construct receives."""

    settings: RelayKitSettings
    account: str | None
    models: tuple[Model, ...]
    relays: tuple[RelaySite, ...]
    vertex: VertexAccess | None = None

    @property
    def failover_environment(self) -> dict[str, str]:
        """RELAY_VERTEX_* and RELAY_FALLBACKS for the relays, empty without those blocks."""
        return failover_environment(self.settings.fallbacks, self.vertex)

    @property
    def primary(self) -> RelaySite:
        return self.relays[0]

    @property
    def bedrock_regions(self) -> tuple[str, ...]:
        """Every Bedrock region a relay calls, once each, primary first."""
        return tuple(dict.fromkeys(r.bedrock_region for r in self.relays))

    def targets_in(self, bedrock_region: str) -> tuple[BedrockTarget, ...]:
        return next(r.targets for r in self.relays if r.bedrock_region == bedrock_region)


def load_config(
    context: Mapping[str, Any], *, default_account: str | None = None
) -> RelayKitConfig:
    """Validate the `relaykit` context (with dotted `-c` overrides) into a RelayKitConfig."""
    raw = _merge_overrides(context)
    try:
        settings = RelayKitSettings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    _require_recipients(settings.alarms)
    catalog = _catalog(settings)
    models = _resolve_models(settings, catalog)
    _check_aliases(settings, catalog, models)
    account = settings.account or default_account
    relays = tuple(_site(settings, key, entry, models) for key, entry in settings.relay_entries())
    for site in relays:
        role = relay_role_name(settings.prefix, site)
        if len(role) > _ROLE_NAME_LIMIT:
            raise ConfigError(
                f"{CONTEXT_KEY}.prefix: the role name {role!r} exceeds IAM's {_ROLE_NAME_LIMIT} "
                f"characters; shorten {CONTEXT_KEY}.prefix or the relay's name"
            )
    if settings.domain is not None:
        _check_domain_relays(settings.domain, relays)
    try:
        vertex = _vertex(settings.vertex)
        key = f"{CONTEXT_KEY}.fallbacks"
        chains = fallback_chains(settings.fallbacks, catalog, models, vertex, key)
        relays = tuple(
            dataclasses.replace(
                r, fallback_targets=fallback_targets(chains, catalog, r.routing, key)
            )
            for r in relays
        )
    except FailoverError as error:
        raise ConfigError(str(error)) from None
    return RelayKitConfig(settings, account, models, relays, vertex)


def _vertex(vertex: Vertex | None) -> VertexAccess | None:
    if vertex is None:
        return None
    return vertex_access(vertex.project, vertex.region, vertex.credentials, f"{CONTEXT_KEY}.vertex")


def _check_domain_relays(domain: Domain, relays: tuple[RelaySite, ...]) -> None:
    names = [r.name for r in relays]
    key = f"{CONTEXT_KEY}.domain"
    unknown = sorted(set(domain.locations) - set(names))
    if unknown:
        raise ConfigError(
            f"{key}.locations: {', '.join(unknown)} is not a relay; use the names of "
            f"{CONTEXT_KEY}.relays ({', '.join(names)})"
        )
    if domain.default_relay is not None and domain.default_relay not in names:
        raise ConfigError(
            f"{key}.defaultRelay: {domain.default_relay} is not a relay; use one of "
            f"{', '.join(names)}"
        )


def _require_recipients(alarms: Alarms) -> None:
    if alarms.emails or alarms.acknowledge_no_recipients:
        return
    raise ConfigError(
        f"{CONTEXT_KEY}.alarms.emails: no one would hear of the budget, cost anomalies or "
        f"alarms: list at least one address, e.g. -c {CONTEXT_KEY}.alarms.emails="
        f"'[\"ops@example.com\"]', or set {CONTEXT_KEY}.alarms.acknowledgeNoRecipients=true "
        "to deploy without anyone being told"
    )


def _catalog(settings: RelayKitSettings) -> Catalog:
    try:
        return extend(settings.catalog_extra, f"{CONTEXT_KEY}.catalogExtra")
    except CatalogExtraError as error:
        raise ConfigError(str(error)) from None


def _check_aliases(settings: RelayKitSettings, catalog: Catalog, models: tuple[Model, ...]) -> None:
    key = f"{CONTEXT_KEY}.modelAliases"
    try:
        parse_aliases(json.dumps(settings.model_aliases), key)
    except AliasError as error:
        raise ConfigError(str(error)) from None
    for pattern, target in settings.model_aliases.items():
        try:
            model = catalog.by_alias(target)
        except UnknownModelError:
            model = None
        if model not in models:
            raise ConfigError(
                f"{key}[{pattern!r}]: {target!r} is not one of the models deployed "
                f"({', '.join(m.alias for m in models)}); add it to {CONTEXT_KEY}.models"
            )


def _merge_overrides(context: Mapping[str, Any]) -> dict[str, Any]:
    base = context.get(CONTEXT_KEY, {})
    if isinstance(base, str):
        base = json.loads(base)
    if not isinstance(base, dict):
        raise ConfigError(f"{CONTEXT_KEY}: expected an object in cdk.json context")
    merged: dict[str, Any] = json.loads(json.dumps(base))
    prefix = CONTEXT_KEY + "."
    for key, value in context.items():
        if not key.startswith(prefix):
            continue
        path = key[len(prefix) :].split(".")
        node = merged
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{key}: '{part}' is not an object, so it has no '{path[-1]}'")
            node = child
        node[path[-1]] = _parse_cli_value(value)
    return merged


def _parse_cli_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join([CONTEXT_KEY, *(str(p) for p in item["loc"])])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against cdk.json"
        lines.append(f"{key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _resolve_models(settings: RelayKitSettings, catalog: Catalog) -> tuple[Model, ...]:
    if not settings.models:
        return (DEFAULT_MODEL,)
    models = []
    for alias in settings.models:
        try:
            models.append(catalog.by_alias(alias))
        except UnknownModelError:
            raise ConfigError(
                f"{CONTEXT_KEY}.models: '{alias}' is not a model of the catalog; "
                f"use an alias from relay/catalog.py or add it under {CONTEXT_KEY}.catalogExtra"
            ) from None
    return tuple(dict.fromkeys(models))


def _targets(models: tuple[Model, ...], region: str, routing: Routing) -> tuple[BedrockTarget, ...]:
    return tuple(bedrock_target(m, region, routing) for m in models)


def _require_country_list(settings: RelayKitSettings) -> None:
    waf = settings.waf
    if waf.enabled and waf.allowed_countries:
        return
    if not waf.enabled or not waf.acknowledge_any_country:
        raise ConfigError(
            f"{CONTEXT_KEY}.waf.allowedCountries: the Hong Kong relay needs a country "
            "allow-list, e.g. -c relaykit.waf.enabled=true "
            "-c relaykit.waf.allowedCountries='[\"HK\"]', listing "
            "only places where Anthropic and AWS support the models for your users; or set "
            f"{CONTEXT_KEY}.waf.acknowledgeAnyCountry=true to answer for that yourself "
            "(docs/aws.md, 'Compliance first')"
        )


def _site(
    settings: RelayKitSettings, key: str, entry: RelayEntry, models: tuple[Model, ...]
) -> RelaySite:
    site = _bedrock_site(key, entry, models, entry.routing or settings.routing)
    if site.region == HONG_KONG:
        _require_country_list(settings)
    fargate = entry.fargate or settings.fargate
    # `relaykit.domain` gives every relay its hostname's certificate.
    if entry.compute is Compute.FARGATE and settings.domain is None:
        _require_tls(fargate, f"{key}.fargate" if entry.fargate else f"{CONTEXT_KEY}.fargate")
    return dataclasses.replace(site, compute=entry.compute, fargate=fargate)


def _require_tls(fargate: FargateSettings, key: str) -> None:
    if fargate.certificate_arn or fargate.allow_http:
        return
    raise ConfigError(
        f"{key}.certificateArn: a Fargate relay's load balancer serves HTTPS with an ACM "
        f"certificate of the relay's region: set it, e.g. -c {key}.certificateArn="
        f"arn:aws:acm:us-east-1:123456789012:certificate/..., or configure {CONTEXT_KEY}.domain, "
        f"or set {key}.allowHttp=true to serve plain HTTP (keys would cross the network in "
        "clear text)"
    )


def _bedrock_site(
    key: str, entry: RelayEntry, models: tuple[Model, ...], routing: Routing
) -> RelaySite:
    if entry.bedrock_region is not None:
        return _configured_site(key, entry, entry.bedrock_region, models, routing)
    candidates = entry.candidates
    if not candidates:
        return _own_region_site(key, entry, models, routing)
    refusals = []
    for candidate in candidates:
        try:
            targets = _targets(models, candidate, routing)
        except NoRouteError as error:
            refusals.append(f"{candidate}: {error}")
            continue
        reason = f"nearest candidate serving every model with {routing.value} routing"
        return RelaySite(entry.name, entry.region, candidate, targets, reason, routing)
    raise ConfigError(
        f"{key}.bedrockRegion: no candidate region serves every configured model with "
        f"{routing.value} routing; set {key}.bedrockRegion or {key}.bedrockRegionCandidates, "
        f"or change {CONTEXT_KEY}.routing:\n  " + "\n  ".join(refusals)
    )


def _configured_site(
    key: str, entry: RelayEntry, region: str, models: tuple[Model, ...], routing: Routing
) -> RelaySite:
    if region in REGIONS_WITHOUT_BEDROCK:
        nearest = _DEFAULT_CANDIDATES.get(region, ())
        choose = f"; choose one of {', '.join(nearest)}" if nearest else ""
        raise ConfigError(
            f"{key}.bedrockRegion: Amazon Bedrock has no endpoint in {region}{choose}"
        )
    try:
        targets = _targets(models, region, routing)
    except NoRouteError as error:
        raise ConfigError(f"{key}.bedrockRegion: {error}") from None
    return RelaySite(entry.name, entry.region, region, targets, "configured", routing)


def _own_region_site(
    key: str, entry: RelayEntry, models: tuple[Model, ...], routing: Routing
) -> RelaySite:
    if entry.region in REGIONS_WITHOUT_BEDROCK:
        opt_in = f" ({entry.region} is an opt-in region)" if entry.region in OPT_IN_REGIONS else ""
        hint = (
            f", or use {CONTEXT_KEY}.hongKong for a relay in Hong Kong"
            if key.endswith(".primary")
            else ""
        )
        raise ConfigError(
            f"{key}.region: Amazon Bedrock has no endpoint in {entry.region}; set "
            f"{key}.bedrockRegion to a Bedrock region{hint}{opt_in}"
        )
    try:
        targets = _targets(models, entry.region, routing)
    except NoRouteError as error:
        raise ConfigError(f"{key}.region: {error} (or change {CONTEXT_KEY}.routing)") from None
    return RelaySite(
        entry.name, entry.region, entry.region, targets, "the relay's own region", routing
    )
