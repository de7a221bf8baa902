"""The deployment's typed configuration, parsed once from the CDK context.

Defaults live in `cdk.json` under the `relaykit` key; any leaf can be overridden on the command
line with a dotted key, e.g. `cdk synth -c relaykit.hongKong.enabled=true` or
`-c relaykit.models=claude-haiku-4-5`. Values given with `-c` are strings: JSON is tried first
(numbers, booleans, lists), then a comma-separated list where a list is expected.

Everything below `load_config` takes these frozen models and never reads the context itself.
Errors name the dotted key and say how to fix it.
"""

from __future__ import annotations

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


class PrimaryRelay(_Section):
    """The main relay: API Gateway and Lambda in `region`, calling Bedrock in `bedrock_region`."""

    region: str = "us-east-1"
    # None: the relay's own region.
    bedrock_region: str | None = None
    compute: Compute = Compute.LAMBDA

    _region = field_validator("region")(_check_region)

    @field_validator("bedrock_region")
    @classmethod
    def _bedrock(cls, value: str | None) -> str | None:
        return None if value is None else _check_region(value)


class HongKongRelay(_Section):
    """A relay in Hong Kong (ap-east-1), which has no Bedrock endpoint of its own."""

    enabled: bool = False
    compute: Compute = Compute.LAMBDA
    # None: the first of `bedrock_region_candidates` that serves every configured model.
    bedrock_region: str | None = None
    # Nearest first (Taipei, Singapore, Tokyo).
    bedrock_region_candidates: tuple[str, ...] = ("ap-east-2", "ap-southeast-1", "ap-northeast-1")

    @field_validator("bedrock_region")
    @classmethod
    def _bedrock(cls, value: str | None) -> str | None:
        return None if value is None else _check_region(value)

    @field_validator("bedrock_region_candidates")
    @classmethod
    def _candidates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('list at least one region, e.g. ["ap-northeast-1"]')
        return tuple(_check_region(v) for v in value)


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
    primary: PrimaryRelay = PrimaryRelay()
    hong_kong: HongKongRelay = HongKongRelay()
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
    compute: Compute = Compute.LAMBDA

    @property
    def api_name(self) -> str:
        return f"{self.name}-relay"


@dataclass(frozen=True)
class RelayKitConfig:
    """The validated configuration every stack and construct receives."""

    settings: RelayKitSettings
    account: str | None
    models: tuple[Model, ...]
    relays: tuple[RelaySite, ...]

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
    relays = [_primary_site(settings, models)]
    if settings.hong_kong.enabled:
        relays.append(_hong_kong_site(settings, models))
    if any(r.compute is Compute.FARGATE for r in relays):
        _require_tls(settings.fargate)
    return RelayKitConfig(settings, account, models, tuple(relays))


def _require_tls(fargate: FargateSettings) -> None:
    if fargate.certificate_arn or fargate.allow_http:
        return
    raise ConfigError(
        f"{CONTEXT_KEY}.fargate.certificateArn: a Fargate relay's load balancer serves HTTPS "
        "with an ACM certificate of the relay's region: set it, e.g. -c "
        f"{CONTEXT_KEY}.fargate.certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/"
        f"..., or set {CONTEXT_KEY}.fargate.allowHttp=true to serve plain HTTP (keys would "
        "cross the network in clear text)"
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


def _primary_site(settings: RelayKitSettings, models: tuple[Model, ...]) -> RelaySite:
    primary = settings.primary
    bedrock_region = primary.bedrock_region or primary.region
    key = f"{CONTEXT_KEY}.primary." + ("bedrockRegion" if primary.bedrock_region else "region")
    if bedrock_region in REGIONS_WITHOUT_BEDROCK:
        raise ConfigError(
            f"{key}: Amazon Bedrock has no endpoint in {bedrock_region}; set "
            f"{CONTEXT_KEY}.primary.bedrockRegion to a Bedrock region, or use "
            f"{CONTEXT_KEY}.hongKong for a relay in Hong Kong (ap-east-1 is an opt-in region)"
        )
    try:
        targets = _targets(models, bedrock_region, settings.routing)
    except NoRouteError as error:
        raise ConfigError(f"{key}: {error} (or change {CONTEXT_KEY}.routing)") from None
    reason = "configured" if primary.bedrock_region else "the relay's own region"
    return RelaySite("primary", primary.region, bedrock_region, targets, reason, primary.compute)


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


def _hong_kong_site(settings: RelayKitSettings, models: tuple[Model, ...]) -> RelaySite:
    _require_country_list(settings)
    hk = settings.hong_kong
    key = f"{CONTEXT_KEY}.hongKong.bedrockRegion"
    if hk.bedrock_region is not None:
        if hk.bedrock_region in REGIONS_WITHOUT_BEDROCK:
            raise ConfigError(
                f"{key}: Amazon Bedrock has no endpoint in {hk.bedrock_region}; choose one of "
                f"{', '.join(hk.bedrock_region_candidates)}"
            )
        try:
            targets = _targets(models, hk.bedrock_region, settings.routing)
        except NoRouteError as error:
            raise ConfigError(f"{key}: {error}") from None
        return RelaySite(
            "hongkong", HONG_KONG, hk.bedrock_region, targets, "configured", hk.compute
        )
    refusals = []
    for candidate in hk.bedrock_region_candidates:
        try:
            targets = _targets(models, candidate, settings.routing)
        except NoRouteError as error:
            refusals.append(f"{candidate}: {error}")
            continue
        reason = f"nearest candidate serving every model with {settings.routing.value} routing"
        return RelaySite("hongkong", HONG_KONG, candidate, targets, reason, hk.compute)
    raise ConfigError(
        f"{key}: no candidate region serves every configured model with "
        f"{settings.routing.value} routing; set {key} or "
        f"{CONTEXT_KEY}.hongKong.bedrockRegionCandidates, or change {CONTEXT_KEY}.routing:\n  "
        + "\n  ".join(refusals)
    )
