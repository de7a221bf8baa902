"""The Pulumi program's typed configuration, parsed once from stack config.

`load` reads `pulumi.Config` at the edge; `parse` turns plain data (what `pulumi config` holds)
into frozen dataclasses and rejects anything wrong with a `ConfigError` that names the key and
says how to fix it. Nothing below this module reads Pulumi config.

Every key is documented in `Pulumi.example.yaml` at the top of the repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pulumi

from relay.catalog import DEFAULT_MODEL, MODELS, Model, UnknownModelError, by_alias

# The Pulumi project name (Pulumi.yaml `name`): the namespace of this program's config keys.
NAMESPACE = "claude-vertex"

DEFAULT_THRESHOLDS_PERCENT = (50, 90, 100, 120)

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AWS_ACCOUNT = re.compile(r"^\d{12}$")
# arn:aws:iam::123456789012:role/optional/path/RoleName (IAM allows + = , . @ _ - in names).
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{2,14}$")
_REGION = re.compile(r"^(global|[a-z]+(-[a-z]+)*\d*)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ConfigError(ValueError):
    """A stack config value is missing or wrong; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        super().__init__(f"{NAMESPACE}:{key}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class QuotaValues:
    """Per-minute limits asked of Cloud Quotas for one base model in one location."""

    requests_per_minute: int
    input_tokens_per_minute: int
    output_tokens_per_minute: int


# A modest starting point; new projects often have 0 for Claude, so any grant is a step up.
DEFAULT_QUOTA = QuotaValues(
    requests_per_minute=60, input_tokens_per_minute=200_000, output_tokens_per_minute=20_000
)


@dataclass(frozen=True)
class QuotaConfig:
    """What to ask Cloud Quotas for; `per_model` overrides `default` by model alias."""

    enabled: bool
    default: QuotaValues
    contact_email: str
    justification: str
    per_model: Mapping[str, QuotaValues] = field(default_factory=dict)

    def values_for(self, model: Model) -> QuotaValues:
        return self.per_model.get(model.alias, self.default)


@dataclass(frozen=True)
class BudgetConfig:
    """A monthly billing budget; thresholds are fractions of `amount` (1.0 is 100%)."""

    billing_account: str
    amount: Decimal
    currency: str
    thresholds: tuple[float, ...]


@dataclass(frozen=True)
class CiOidcConfig:
    """An OIDC issuer (a CI system) whose tokens with exactly `subject` may use the invoker."""

    issuer_uri: str
    subject: str
    allowed_audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class FederationConfig:
    """Who may call Vertex AI as the invoker without a key: the relays' AWS roles (one per
    relay region, all in one account), optionally CI."""

    aws_account_id: str
    relay_role_arns: tuple[str, ...]
    relay_role_names: tuple[str, ...]
    ci_oidc: CiOidcConfig | None = None

    @property
    def assumed_role_arns(self) -> tuple[str, ...]:
        """The roles as STS names a session of them, without the session name.

        Lambda's session ARNs (`.../assumed-role/ROLE/FUNCTION`) carry the function name, vary
        and can exceed the 127-byte `google.subject` limit; this normalised form does not.
        IAM role paths do not appear in STS ARNs, so only the role name is kept.
        """
        return tuple(
            f"arn:aws:sts::{self.aws_account_id}:assumed-role/{name}"
            for name in self.relay_role_names
        )


@dataclass(frozen=True)
class AlertConfig:
    """Thresholds of the Cloud Monitoring alert policies."""

    errors_per_minute: float = 5.0
    throttled_per_minute: float = 1.0
    first_token_latency_p95_ms: float = 10_000.0
    tokens_per_minute: float = 2_000_000.0


@dataclass(frozen=True)
class StackConfig:
    """Everything the Pulumi program needs, validated."""

    project: str
    regions: tuple[str, ...]
    models: tuple[Model, ...]
    quota: QuotaConfig
    budget: BudgetConfig
    alert_emails: tuple[str, ...]
    federation: FederationConfig
    alerts: AlertConfig = AlertConfig()
    prefix: str = "claude"
    create_service_account_key: bool = False

    @property
    def primary_region(self) -> str:
        return self.regions[0]


def load() -> StackConfig:
    """Read this stack's config (and `gcp:project`) and parse it; the program's only reader."""
    ours = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        # Structured values (lists, objects, booleans) arrive as JSON; `prefix` is a plain string.
        value = ours.get(key) if key in _STRING_KEYS else ours.get_object(key)
        if value is not None:
            raw[key] = value
    return parse(raw, project=pulumi.Config("gcp").get("project"))


KNOWN_KEYS = (
    "regions",
    "models",
    "quota",
    "budget",
    "alertEmails",
    "federation",
    "alerts",
    "prefix",
    "createServiceAccountKey",
)
_STRING_KEYS = frozenset({"prefix"})


def parse(raw: Mapping[str, Any], *, project: str | None) -> StackConfig:
    """Validate plain config data; raise `ConfigError` on the first problem."""
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            unknown[0], "is not a key of this program", f"use one of: {', '.join(KNOWN_KEYS)}"
        )
    if not project or not _PROJECT_ID.match(project):
        raise ConfigError(
            "gcp:project",
            f"{project!r} is not a GCP project id",
            "pulumi config set gcp:project <your-project-id>",
        )
    models = _models(raw.get("models"))
    regions = _regions(raw.get("regions"), models)
    alert_emails = _emails(raw.get("alertEmails"))
    return StackConfig(
        project=project,
        regions=regions,
        models=models,
        quota=_quota(_mapping(raw.get("quota", {}), "quota"), alert_emails[0], models),
        budget=_budget(raw.get("budget")),
        alert_emails=alert_emails,
        federation=_federation(raw.get("federation")),
        alerts=_alerts(_mapping(raw.get("alerts", {}), "alerts")),
        prefix=_prefix(raw.get("prefix", "claude")),
        create_service_account_key=_bool(
            raw.get("createServiceAccountKey", False), "createServiceAccountKey"
        ),
    )


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            key, f"expected an object, got {value!r}", f"see {key} in Pulumi.example.yaml"
        )
    return value


def _list(value: Any, key: str) -> Sequence[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ConfigError(
            key,
            f"expected a non-empty list, got {value!r}",
            f"pulumi config set --path '{key}[0]' …",
        )
    return value


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ConfigError(
        key, f"expected true or false, got {value!r}", f"pulumi config set {key} false"
    )


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(key, f"expected a whole number, got {value!r}", f"set {key} to e.g. 100")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            key, f"expected a whole number, got {value!r}", f"set {key} to e.g. 100"
        ) from None
    if number <= 0:
        raise ConfigError(key, f"must be greater than 0, got {number}", f"set {key} to e.g. 100")
    return number


def _positive_float(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            key, f"expected a number, got {value!r}", f"set {key} to e.g. 10"
        ) from None
    if number <= 0:
        raise ConfigError(key, f"must be greater than 0, got {value!r}", f"set {key} to e.g. 10")
    return number


def _models(value: Any) -> tuple[Model, ...]:
    aliases = [DEFAULT_MODEL.alias] if value is None else _list(value, "models")
    on_vertex = ", ".join(m.alias for m in MODELS if m.vertex_id)
    models: list[Model] = []
    for index, alias in enumerate(aliases):
        key = f"models[{index}]"
        try:
            model = by_alias(str(alias))
        except UnknownModelError:
            raise ConfigError(
                key, f"{alias!r} is not a model of the catalog", f"use one of: {on_vertex}"
            ) from None
        if model.vertex_id is None:
            raise ConfigError(
                key, f"{model.name} is not offered on Vertex AI", f"use one of: {on_vertex}"
            )
        if model in models:
            raise ConfigError(key, f"{model.alias} is listed twice", "list each model once")
        models.append(model)
    return tuple(models)


def _regions(value: Any, models: Sequence[Model]) -> tuple[str, ...]:
    regions = ["global"] if value is None else _list(value, "regions")
    for index, region in enumerate(regions):
        key = f"regions[{index}]"
        if not isinstance(region, str) or not _REGION.match(region):
            raise ConfigError(
                key, f"{region!r} is not a Vertex AI location", "use e.g. global or us-east5"
            )
        for model in models:
            # An empty tuple means the catalog does not list Vertex regions yet: nothing to check.
            if model.vertex_regions and region not in model.vertex_regions:
                raise ConfigError(
                    key,
                    f"{model.name} is not offered in {region}",
                    f"use one of: {', '.join(model.vertex_regions)}",
                )
    if len(set(regions)) != len(regions):
        raise ConfigError("regions", "a region is listed twice", "list each region once")
    return tuple(regions)


def _emails(value: Any) -> tuple[str, ...]:
    emails = _list(value, "alertEmails")
    for index, email in enumerate(emails):
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise ConfigError(
                f"alertEmails[{index}]",
                f"{email!r} is not an e-mail address",
                "use name@example.com",
            )
    if len(emails) > 5:
        # A budget's all-updates rule accepts at most five monitoring notification channels.
        raise ConfigError(
            "alertEmails", f"{len(emails)} addresses given", "list at most 5 (use a group)"
        )
    return tuple(emails)


def _quota_values(raw: Mapping[str, Any], key: str, base: QuotaValues) -> QuotaValues:
    def pick(name: str, fallback: int) -> int:
        return _positive_int(raw[name], f"{key}.{name}") if name in raw else fallback

    return QuotaValues(
        requests_per_minute=pick("requestsPerMinute", base.requests_per_minute),
        input_tokens_per_minute=pick("inputTokensPerMinute", base.input_tokens_per_minute),
        output_tokens_per_minute=pick("outputTokensPerMinute", base.output_tokens_per_minute),
    )


def _quota(raw: Mapping[str, Any], first_email: str, models: Sequence[Model]) -> QuotaConfig:
    enabled = _bool(raw.get("enabled", True), "quota.enabled")
    default = _quota_values(raw, "quota", DEFAULT_QUOTA)
    per_model: dict[str, QuotaValues] = {}
    chosen = {m.alias for m in models}
    for alias, values in _mapping(raw.get("perModel", {}), "quota.perModel").items():
        if alias not in chosen:
            raise ConfigError(
                f"quota.perModel.{alias}",
                "names a model that is not in `models`",
                f"use one of: {', '.join(sorted(chosen))}",
            )
        per_model[alias] = _quota_values(
            _mapping(values, f"quota.perModel.{alias}"), f"quota.perModel.{alias}", default
        )
    contact = raw.get("contactEmail", first_email)
    if not isinstance(contact, str) or not _EMAIL.match(contact):
        raise ConfigError(
            "quota.contactEmail", f"{contact!r} is not an e-mail address", "use name@example.com"
        )
    justification = raw.get(
        "justification", "Claude on Vertex AI for the organisation's relay (claude-relay-kit)."
    )
    return QuotaConfig(
        enabled=enabled,
        default=default,
        contact_email=contact,
        justification=str(justification),
        per_model=per_model,
    )


def _budget(value: Any) -> BudgetConfig:
    if value is None:
        raise ConfigError(
            "budget",
            "is required (every stack gets a billing budget)",
            "pulumi config set --path budget.billingAccount 0X0X0X-0X0X0X-0X0X0X and budget.amount",
        )
    raw = _mapping(value, "budget")
    account = raw.get("billingAccount")
    if not isinstance(account, str) or not re.match(
        r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", account
    ):
        raise ConfigError(
            "budget.billingAccount",
            f"{account!r} is not a billing account id",
            "copy it from `gcloud billing projects describe <project>` (XXXXXX-XXXXXX-XXXXXX)",
        )
    try:
        amount = Decimal(str(raw.get("amount")))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        raise ConfigError(
            "budget.amount",
            f"expected a positive amount, got {raw.get('amount')!r}",
            "pulumi config set --path budget.amount 500",
        )
    currency = raw.get("currency", "USD")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ConfigError(
            "budget.currency",
            f"{currency!r} is not an ISO 4217 code",
            "use the billing account's, e.g. USD",
        )
    percents = raw.get("thresholdsPercent", list(DEFAULT_THRESHOLDS_PERCENT))
    thresholds = tuple(
        _positive_float(p, f"budget.thresholdsPercent[{i}]") / 100
        for i, p in enumerate(_list(percents, "budget.thresholdsPercent"))
    )
    if list(thresholds) != sorted(set(thresholds)):
        raise ConfigError(
            "budget.thresholdsPercent",
            f"{list(percents)} is not strictly ascending",
            "list each percentage once, smallest first, e.g. [50, 90, 100, 120]",
        )
    return BudgetConfig(
        billing_account=account, amount=amount, currency=currency, thresholds=thresholds
    )


def _federation(value: Any) -> FederationConfig:
    if value is None:
        raise ConfigError(
            "federation",
            "is required: the relays' AWS roles are what call Vertex AI",
            "pulumi config set --path 'federation.relayRoleArns[0]' "
            "arn:aws:iam::<account>:role/<role> (relaykit connect gcp-config prints them all)",
        )
    raw = _mapping(value, "federation")
    arns, key = _role_arns(raw)
    matches = []
    for i, arn in enumerate(arns):
        match = _ROLE_ARN.match(arn) if isinstance(arn, str) else None
        if match is None or not isinstance(arn, str):
            raise ConfigError(
                key if key == "federation.relayRoleArn" else f"{key}[{i}]",
                f"{arn!r} is not an IAM role ARN",
                "use the relays' RelayRoleArn stack outputs, arn:aws:iam::<account>:role/<name>",
            )
        matches.append((arn, match.group(1), match.group(2)))
    arn_accounts = sorted({a for _, a, _ in matches})
    if len(arn_accounts) > 1:
        raise ConfigError(
            key,
            f"the roles are in several accounts ({', '.join(arn_accounts)})",
            "one provider trusts one AWS account: run one GCP stack per account",
        )
    [arn_account] = arn_accounts
    account = str(raw.get("awsAccountId", arn_account))
    if not _AWS_ACCOUNT.match(account):
        raise ConfigError(
            "federation.awsAccountId", f"{account!r} is not a 12-digit AWS account id", "or omit it"
        )
    if account != arn_account:
        raise ConfigError(
            "federation.awsAccountId",
            f"{account} differs from the account of the relay roles ({arn_account})",
            "make them match, or omit awsAccountId",
        )
    ci = raw.get("ciOidc")
    return FederationConfig(
        aws_account_id=account,
        relay_role_arns=tuple(dict.fromkeys(a for a, _, _ in matches)),
        relay_role_names=tuple(dict.fromkeys(n for _, _, n in matches)),
        ci_oidc=None if ci is None else _ci_oidc(_mapping(ci, "federation.ciOidc")),
    )


def _role_arns(raw: Mapping[str, Any]) -> tuple[list[Any], str]:
    """`relayRoleArns` (a list, one role per relay), or the earlier single `relayRoleArn`."""
    if "relayRoleArns" in raw and "relayRoleArn" in raw:
        raise ConfigError(
            "federation.relayRoleArn",
            "is given beside federation.relayRoleArns",
            "list every role in relayRoleArns and remove relayRoleArn",
        )
    if "relayRoleArns" not in raw:
        return [raw.get("relayRoleArn")], "federation.relayRoleArn"
    arns = raw["relayRoleArns"]
    if not isinstance(arns, list) or not arns:
        raise ConfigError(
            "federation.relayRoleArns",
            f"{arns!r} is not a list of role ARNs",
            "give each relay's RelayRoleArn output, e.g. relaykit connect gcp-config",
        )
    return list(arns), "federation.relayRoleArns"


def _ci_oidc(raw: Mapping[str, Any]) -> CiOidcConfig:
    issuer = raw.get("issuerUri")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise ConfigError(
            "federation.ciOidc.issuerUri",
            f"{issuer!r} is not an https issuer URL",
            "use e.g. https://token.actions.githubusercontent.com",
        )
    subject = raw.get("subject")
    if not isinstance(subject, str) or not subject or "'" in subject:
        raise ConfigError(
            "federation.ciOidc.subject",
            "is required: only tokens with exactly this subject may federate",
            "use e.g. repo:my-org/my-repo:ref:refs/heads/main",
        )
    audiences = raw.get("allowedAudiences", [])
    if isinstance(audiences, str) or not isinstance(audiences, Sequence):
        raise ConfigError(
            "federation.ciOidc.allowedAudiences", "expected a list of strings", "or omit it"
        )
    return CiOidcConfig(
        issuer_uri=issuer, subject=subject, allowed_audiences=tuple(str(a) for a in audiences)
    )


def _alerts(raw: Mapping[str, Any]) -> AlertConfig:
    defaults = AlertConfig()

    def pick(name: str, default: float) -> float:
        return _positive_float(raw[name], f"alerts.{name}") if name in raw else default

    return AlertConfig(
        errors_per_minute=pick("errorsPerMinute", defaults.errors_per_minute),
        throttled_per_minute=pick("throttledPerMinute", defaults.throttled_per_minute),
        first_token_latency_p95_ms=pick(
            "firstTokenLatencyP95Ms", defaults.first_token_latency_p95_ms
        ),
        tokens_per_minute=pick("tokensPerMinute", defaults.tokens_per_minute),
    )


def _prefix(value: Any) -> str:
    # Google reserves ids starting with `gcp-` (workload identity pools and providers).
    if not isinstance(value, str) or not _PREFIX.match(value) or value.startswith("gcp"):
        raise ConfigError(
            "prefix",
            f"{value!r} cannot start GCP resource ids",
            "use 3-15 lowercase letters, digits or hyphens, starting with a letter, not 'gcp'",
        )
    return value
