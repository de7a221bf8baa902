"""The deploy rehearsal of three relays (us-east-1, eu-west-1, ap-east-1) behind one hostname: the
pinned CDK CLI bootstraps four environments and deploys the app into moto, whose Route 53 then
holds the hostname's latency records and their health checks (about 70 s, once per module).

What moto does not create (the ACM certificate, the API Gateway custom domain and its mapping:
placeholders) is asserted on the deployed templates; moto does not keep a check's EnableSNI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_stack_helpers import resources

from relaykit.rehearsal import DeployedStack, DeployRehearsal

HOSTNAME = "claude.example.com"
RELAYS = {"us": "us-east-1", "eu": "eu-west-1", "hk": "ap-east-1"}
STACKS = {"us": "ClaudeRelay-Relay-Us", "eu": "ClaudeRelay-Relay-Eu", "hk": "ClaudeRelay-Relay-Hk"}
CONTEXT = {
    "relaykit.relays": json.dumps([{"name": n, "region": r} for n, r in RELAYS.items()]),
    # The Hong Kong relay requires the WAF country list (moto creates no WAF: placeholders).
    "relaykit.waf.enabled": "true",
    "relaykit.waf.allowedCountries": '["HK", "US", "IE"]',
    # The rehearsal creates example.com in moto and deploys with moto's id for it.
    "relaykit.domain": json.dumps(
        {"name": HOSTNAME, "hostedZoneId": "Z0000000000000", "hostedZoneName": "example.com"}
    ),
}


@dataclass
class Run:
    rehearsal: DeployRehearsal
    created: dict[str, DeployedStack]
    zone_id: str


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with DeployRehearsal(context=CONTEXT, say=lambda *args, **kwargs: None) as rehearsal:
        created = rehearsal.deploy()
        [zone] = rehearsal.client("route53").list_hosted_zones()["HostedZones"]
        yield Run(rehearsal, created, zone["Id"].rsplit("/", 1)[-1])


def _records(run: Run) -> dict[str, dict[str, Any]]:
    found = run.rehearsal.client("route53").list_resource_record_sets(HostedZoneId=run.zone_id)
    return {
        r["SetIdentifier"]: r
        for r in found["ResourceRecordSets"]
        if r["Name"] == f"{HOSTNAME}." and r["Type"] == "A"
    }


def _api_host(stack: DeployedStack) -> str:
    return stack.outputs["EndpointUrl"].removeprefix("https://").split("/", 1)[0]


def test_every_regions_relay_stack_is_created(run: Run) -> None:
    for name in RELAYS:
        assert run.created[STACKS[name]].status == "CREATE_COMPLETE"


def test_route53_holds_one_latency_record_per_region_each_with_its_health_check(run: Run) -> None:
    records = _records(run)
    assert set(records) == set(RELAYS)
    checks = {
        c["Id"]: c["HealthCheckConfig"]
        for c in run.rehearsal.client("route53").list_health_checks()["HealthChecks"]
    }
    for name, region in RELAYS.items():
        record = records[name]
        assert record["Region"] == region
        check = checks[record["HealthCheckId"]]
        assert check["Type"] == "HTTPS"
        assert check["ResourcePath"] == "/prod/health"
        assert check["RequestInterval"] == 30
        assert check["FailureThreshold"] == 3
        # Each region's check calls that region's own API, not the shared hostname.
        assert check["FullyQualifiedDomainName"] == _api_host(run.created[STACKS[name]])
        assert f".execute-api.{region}." in check["FullyQualifiedDomainName"]
    assert run.created[STACKS["us"]].outputs["HealthCheckId"] == records["us"]["HealthCheckId"]


def test_each_relays_role_exists_under_its_output_name(run: Run) -> None:
    for name, region in RELAYS.items():
        outputs = run.created[STACKS[name]].outputs
        assert outputs["GlobalEndpointUrl"] == f"https://{HOSTNAME}"
        role_name = outputs["RelayRoleArn"].rsplit("/", 1)[-1]
        assert role_name == f"ClaudeRelay-{name}-relay-{region}"
        role = run.rehearsal.client("iam").get_role(RoleName=role_name)["Role"]
        assert role["Arn"] == outputs["RelayRoleArn"]


def test_what_moto_does_not_create_is_in_the_deployed_templates(run: Run) -> None:
    assert run.rehearsal.assembly is not None
    for name in RELAYS:
        path = run.rehearsal.assembly / f"{STACKS[name]}.template.json"
        template = json.loads(path.read_text())
        [certificate] = resources(template, "AWS::CertificateManager::Certificate").values()
        assert certificate["Properties"]["DomainValidationOptions"] == [
            {"DomainName": HOSTNAME, "HostedZoneId": run.zone_id}
        ]
        assert len(resources(template, "AWS::ApiGateway::DomainName")) == 1
        assert len(resources(template, "AWS::ApiGateway::BasePathMapping")) == 1
