"""AWS WAF for a relay: a per-IP rate limit, and optional IP and country allow-lists.

The country allow-list is the operator's tool for keeping the endpoint to the places where its
users may use the models (Anthropic's supported regions, the cloud provider's terms).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.aws.constructs.function import retention


@dataclass(frozen=True)
class RelayWebAclProps:
    name: str
    rate_limit: int
    allowed_cidrs: tuple[str, ...] = ()
    allowed_countries: tuple[str, ...] = ()
    log_retention_days: int = 30
    # Paths the allow-lists let through (the rate limit still applies): /health for Route 53's
    # health checkers, which call from their own regions and addresses.
    open_paths: tuple[str, ...] = ()


# Logged requests never carry the key (either header may hold it).
REDACTED_HEADERS = ("x-api-key", "authorization")


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _block_unless(
    statement: wafv2.CfnWebACL.StatementProperty,
) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=statement)
    )


def _or_open_path(
    allowed: wafv2.CfnWebACL.StatementProperty, open_paths: tuple[str, ...]
) -> wafv2.CfnWebACL.StatementProperty:
    paths = [
        wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="ENDS_WITH",
                search_string=path,
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                ],
            )
        )
        for path in open_paths
    ]
    if not paths:
        return allowed
    return wafv2.CfnWebACL.StatementProperty(
        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=[allowed, *paths])
    )


class RelayWebAcl(Construct):
    """Provisions a regional `CfnWebACL` (allow by default, blocking by rule) and its IP sets.

    Rules, in order: block clients outside the IP allow-list (if any), block requests from
    countries outside the country allow-list (if any), block clients over `rate_limit` requests
    per 5 minutes. Requests to `open_paths` pass the allow-lists.
    """

    def __init__(self, scope: Construct, construct_id: str, props: RelayWebAclProps) -> None:
        super().__init__(scope, construct_id)
        rules: list[wafv2.CfnWebACL.RuleProperty] = []
        self.ip_sets: list[wafv2.CfnIPSet] = []
        if props.allowed_cidrs:
            statements = []
            for version in ("IPV4", "IPV6"):
                cidrs = [c for c in props.allowed_cidrs if (":" in c) == (version == "IPV6")]
                if not cidrs:
                    continue
                ip_set = wafv2.CfnIPSet(
                    self,
                    f"Allowed{version}",
                    addresses=cidrs,
                    ip_address_version=version,
                    scope="REGIONAL",
                    description=f"Clients allowed to call {props.name}",
                )
                self.ip_sets.append(ip_set)
                statements.append(
                    wafv2.CfnWebACL.StatementProperty(
                        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                            arn=ip_set.attr_arn
                        )
                    )
                )
            allowed = (
                statements[0]
                if len(statements) == 1
                else wafv2.CfnWebACL.StatementProperty(
                    or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=statements)
                )
            )
            rules.append(
                self._block_rule(
                    "BlockOutsideIpAllowList",
                    len(rules),
                    _block_unless(_or_open_path(allowed, props.open_paths)),
                )
            )
        if props.allowed_countries:
            geo = wafv2.CfnWebACL.StatementProperty(
                geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(
                    country_codes=list(props.allowed_countries)
                )
            )
            rules.append(
                self._block_rule(
                    "BlockOutsideCountryAllowList",
                    len(rules),
                    _block_unless(_or_open_path(geo, props.open_paths)),
                )
            )
        rate = wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP", limit=props.rate_limit, evaluation_window_sec=300
            )
        )
        rules.append(self._block_rule("RateLimitPerIp", len(rules), rate))
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            scope="REGIONAL",
            name=props.name,
            description=f"Rate limit and allow-lists for {props.name}",
            visibility_config=_visibility(props.name),
            rules=rules,
        )
        # WAF requires the log group's name to start with aws-waf-logs-.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{props.name}",
            retention=retention(props.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )
        self.logging.add_dependency(self.log_group.node.default_child)  # type: ignore[arg-type]

    @staticmethod
    def _block_rule(
        name: str, priority: int, statement: wafv2.CfnWebACL.StatementProperty
    ) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=name,
            priority=priority,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=statement,
            visibility_config=_visibility(name),
        )

    def associate(self, construct_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        return wafv2.CfnWebACLAssociation(
            self, construct_id, resource_arn=resource_arn, web_acl_arn=self.web_acl.attr_arn
        )
