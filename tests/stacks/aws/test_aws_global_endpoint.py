"""Three relays behind one hostname: per region a certificate, a custom domain and its base path
mapping, a health check on /health and the hostname's records; Vertex AI as the last fallback.

One synthesis per routing variant, shared by the module's tests (synthesis is slow).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_stack_helpers import DEFAULT_OVERRIDES, REPO_ROOT, resources
from conftest import Synthesis, synthesize
from lint_tools import cfn_lint_findings, checkov_failures
from test_aws_template_lint import CFN_LINT_SKIPPED, CHECKOV_SKIPPED

from relay.catalog import DEFAULT_MODEL
from relaykit.connect import ROLE_OUTPUT
from stacks.aws.infra_cost import (
    HEALTH_CHECK_FEATURE_MONTH,
    HEALTH_CHECK_MONTH,
    cost_table,
    estimate,
)

ZONE = {"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"}
HOSTNAME = "claude.example.com"
RELAYS = [
    {"name": "us", "region": "us-east-1"},
    {"name": "eu", "region": "eu-west-1"},
    {"name": "hk", "region": "ap-east-1"},
]
STACKS = {"us": "ClaudeRelay-Relay-Us", "eu": "ClaudeRelay-Relay-Eu", "hk": "ClaudeRelay-Relay-Hk"}
CREDENTIALS = REPO_ROOT / "tests" / "fixtures" / "connect" / "federation-credential-config.json"
CHAIN = ["bedrock:us-west-2", "vertex:us-east5"]
MULTI_REGION: dict[str, Any] = {
    **DEFAULT_OVERRIDES,
    "relaykit.relays": json.dumps(RELAYS),
    "relaykit.waf.enabled": "true",
    "relaykit.waf.allowedCountries": '["HK", "US", "IE"]',
}


@pytest.fixture(scope="module")
def latency(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    overrides = {
        **MULTI_REGION,
        "relaykit.domain": json.dumps({"name": HOSTNAME, **ZONE}),
        "relaykit.vertex": json.dumps(
            {"project": "relay-example-123", "region": "us-east5", "credentials": str(CREDENTIALS)}
        ),
        "relaykit.fallbacks": json.dumps({DEFAULT_MODEL.alias: CHAIN}),
    }
    return synthesize(tmp_path_factory.mktemp("cdk.latency"), overrides)


@pytest.fixture(scope="module")
def geolocation(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    domain = {
        "name": HOSTNAME,
        **ZONE,
        "routing": "geolocation",
        "locations": {"hk": ["continent:AS", "continent:OC"], "eu": ["continent:EU"]},
        "defaultRelay": "us",
    }
    overrides = {**MULTI_REGION, "relaykit.domain": json.dumps(domain)}
    return synthesize(tmp_path_factory.mktemp("cdk.geolocation"), overrides)


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = resources(template, kind).values()
    return found["Properties"]  # type: ignore[no-any-return]


def _api_id(template: dict[str, Any]) -> str:
    [api_id] = resources(template, "AWS::ApiGateway::RestApi")
    return api_id


@pytest.mark.parametrize("name", list(STACKS))
def test_each_region_has_a_certificate_custom_domain_and_mapping_for_the_hostname(
    latency: Synthesis, name: str
) -> None:
    template = latency.templates[STACKS[name]]
    certificate = _one(template, "AWS::CertificateManager::Certificate")
    assert certificate["DomainName"] == HOSTNAME
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": HOSTNAME, "HostedZoneId": ZONE["hostedZoneId"]}
    ]
    domain = _one(template, "AWS::ApiGateway::DomainName")
    assert domain["DomainName"] == HOSTNAME
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert "Ref" in domain["RegionalCertificateArn"]
    mapping = _one(template, "AWS::ApiGateway::BasePathMapping")
    assert mapping["RestApiId"] == {"Ref": _api_id(template)}
    assert "BasePath" not in mapping


@pytest.mark.parametrize("name", list(STACKS))
def test_each_region_checks_its_own_relays_health_over_https(latency: Synthesis, name: str) -> None:
    template = latency.templates[STACKS[name]]
    config = _one(template, "AWS::Route53::HealthCheck")["HealthCheckConfig"]
    assert config["Type"] == "HTTPS"
    assert config["ResourcePath"] == "/prod/health"
    assert config["EnableSNI"] is True
    assert config["RequestInterval"] == 30
    assert config["FailureThreshold"] == 3
    # The regional execute-api host, never the global hostname.
    host = json.dumps(config["FullyQualifiedDomainName"])
    assert _api_id(template) in host
    assert ".execute-api." in host


@pytest.mark.parametrize("name", list(STACKS))
def test_each_region_has_a_latency_record_of_the_hostname_tied_to_its_health_check(
    latency: Synthesis, name: str
) -> None:
    template = latency.templates[STACKS[name]]
    record = _one(template, "AWS::Route53::RecordSet")
    region = next(r["region"] for r in RELAYS if r["name"] == name)
    assert record["Name"] == f"{HOSTNAME}."
    assert record["Type"] == "A"
    assert record["HostedZoneId"] == ZONE["hostedZoneId"]
    assert record["SetIdentifier"] == name
    assert record["Region"] == region
    [check_id] = resources(template, "AWS::Route53::HealthCheck")
    assert record["HealthCheckId"] == {"Ref": check_id}
    [domain_id] = resources(template, "AWS::ApiGateway::DomainName")
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": [domain_id, "RegionalDomainName"]}


def test_outputs_name_the_endpoint_role_bedrock_region_and_hostname(latency: Synthesis) -> None:
    for name, stack in STACKS.items():
        outputs = latency.templates[stack]["Outputs"]
        region = next(r["region"] for r in RELAYS if r["name"] == name)
        assert {"EndpointUrl", ROLE_OUTPUT, "BedrockRegion", "GlobalEndpointUrl"} <= set(outputs)
        assert outputs["GlobalEndpointUrl"]["Value"] == f"https://{HOSTNAME}"
        roles = resources(latency.templates[stack], "AWS::IAM::Role")
        names = [r["Properties"].get("RoleName") for r in roles.values()]
        assert f"ClaudeRelay-{name}-relay-{region}" in names
    hk = latency.templates[STACKS["hk"]]["Outputs"]["BedrockRegion"]["Value"]
    assert hk in ("ap-east-2", "ap-southeast-1", "ap-northeast-1")


def _relay_environment(template: dict[str, Any]) -> dict[str, Any]:
    functions = resources(template, "AWS::Lambda::Function")
    [relay] = [
        f
        for f in functions.values()
        if "RELAY_BEDROCK_REGION" in f["Properties"]["Environment"]["Variables"]
    ]
    return relay["Properties"]["Environment"]["Variables"]  # type: ignore[no-any-return]


def test_vertex_and_fallbacks_become_every_relays_environment(latency: Synthesis) -> None:
    expected = json.loads(CREDENTIALS.read_text())
    for stack in STACKS.values():
        env = _relay_environment(latency.templates[stack])
        assert json.loads(env["RELAY_FALLBACKS"]) == {DEFAULT_MODEL.alias: CHAIN}
        assert env["RELAY_VERTEX_PROJECT"] == "relay-example-123"
        assert env["RELAY_VERTEX_REGION"] == "us-east5"
        assert json.loads(env["RELAY_VERTEX_CREDENTIALS"]) == expected


def test_the_relay_may_invoke_its_bedrock_fallback_region(latency: Synthesis) -> None:
    template = latency.templates[STACKS["eu"]]
    policies = json.dumps(resources(template, "AWS::IAM::Policy"))
    assert "arn:aws:bedrock:us-west-2:123456789012:inference-profile/global." in policies
    assert '"Sid": "Fallback0' in policies


def test_waf_lets_route53_health_checkers_reach_health_past_the_country_list(
    latency: Synthesis,
) -> None:
    acl = _one(latency.templates[STACKS["hk"]], "AWS::WAFv2::WebACL")
    [country] = [r for r in acl["Rules"] if r["Name"] == "BlockOutsideCountryAllowList"]
    allowed = country["Statement"]["NotStatement"]["Statement"]["OrStatement"]["Statements"]
    assert allowed[0]["GeoMatchStatement"]["CountryCodes"] == ["HK", "US", "IE"]
    assert allowed[1]["ByteMatchStatement"]["SearchString"] == "/health"
    assert allowed[1]["ByteMatchStatement"]["PositionalConstraint"] == "ENDS_WITH"


def test_geolocation_records_carry_each_relays_locations_and_the_default(
    geolocation: Synthesis,
) -> None:
    def records(name: str) -> dict[str, dict[str, Any]]:
        found = resources(geolocation.templates[STACKS[name]], "AWS::Route53::RecordSet")
        return {r["Properties"]["SetIdentifier"]: r["Properties"] for r in found.values()}

    hk, eu, us = records("hk"), records("eu"), records("us")
    assert {k: v["GeoLocation"] for k, v in hk.items()} == {
        "hk-continent-AS": {"ContinentCode": "AS"},
        "hk-continent-OC": {"ContinentCode": "OC"},
    }
    assert {k: v["GeoLocation"] for k, v in eu.items()} == {
        "eu-continent-EU": {"ContinentCode": "EU"}
    }
    assert {k: v["GeoLocation"] for k, v in us.items()} == {"us-default": {"CountryCode": "*"}}
    for record in [*hk.values(), *eu.values(), *us.values()]:
        assert record["Name"] == f"{HOSTNAME}."
        assert "Region" not in record
        assert "HealthCheckId" in record


def test_without_a_domain_block_nothing_of_the_hostname_is_created(
    hong_kong_synthesis: Synthesis,
) -> None:
    for template in hong_kong_synthesis.templates.values():
        for kind in (
            "AWS::CertificateManager::Certificate",
            "AWS::ApiGateway::DomainName",
            "AWS::Route53::HealthCheck",
            "AWS::Route53::RecordSet",
        ):
            assert not resources(template, kind)


def test_multi_region_variants_pass_cdk_nag_and_cfn_lint(
    latency: Synthesis, geolocation: Synthesis
) -> None:
    assert latency.validation_error is None
    assert geolocation.validation_error is None
    # The geolocation variant differs in its records only: its Hong Kong stack stands for it.
    templates = [
        *sorted(latency.outdir.glob("*.template.json")),
        geolocation.outdir / f"{STACKS['hk']}.template.json",
    ]
    assert cfn_lint_findings(templates, CFN_LINT_SKIPPED) == []


def test_the_latency_variant_passes_checkov(latency: Synthesis) -> None:
    assert checkov_failures(latency.outdir, CHECKOV_SKIPPED) == []


GLOBAL_COST = ("<!-- cost-table-global:start -->", "<!-- cost-table-global:end -->")


def test_each_region_pays_for_its_https_health_check_and_nothing_for_its_certificate(
    latency: Synthesis,
) -> None:
    idle = {i.what: i.usd for i in estimate(latency.templates)[STACKS["hk"]].idle}
    assert idle["Route 53 health check (HTTPS)"] == HEALTH_CHECK_MONTH + HEALTH_CHECK_FEATURE_MONTH
    assert idle["1 ACM public certificate(s), free"] == 0


def test_docs_show_the_cost_table_of_three_regions_behind_one_hostname(latency: Synthesis) -> None:
    table = cost_table({"three regions, one hostname": latency.templates})
    text = (REPO_ROOT / "docs" / "aws.md").read_text()
    start, end = GLOBAL_COST
    assert start in text, f"docs/aws.md has no {start} ... {end} section"
    shown = text.split(start + "\n", 1)[1].split(end, 1)[0]
    assert shown == table, f"regenerate docs/aws.md's global cost table:\n{table}"
