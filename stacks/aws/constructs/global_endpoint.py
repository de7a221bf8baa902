"""One hostname for every relay: this region's share of it.

Each relay stack holds, for its own region: an ACM certificate for the hostname (DNS-validated in
the hosted zone, free), the regional endpoint that serves it (an API Gateway regional custom
domain with its base path mapping today; a load balancer can take its place through
`RegionalTarget`), a Route 53 health check on the relay's `/health` at its regional address, and
the hostname's records in this region: latency-based (one per region) or geolocation (one per
location, plus the default). A region whose health check fails drops out of the answers, so
callers move to the next nearest relay. Nothing refers across regions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aws_cdk import Aws, Duration, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from stacks.aws.config import Domain, DomainRouting

HEALTH_PATH = "/health"
# Route 53's standard interval; a region is out after this many failed checks in a row.
HEALTH_CHECK_INTERVAL = Duration.seconds(30)
FAILURE_THRESHOLD = 3


class RegionalTarget(Protocol):
    """What the hostname's record in one region points at, and where its health is checked."""

    @property
    def record_target(self) -> route53.RecordTarget: ...

    @property
    def health_host(self) -> str:
        """The regional hostname Route 53's checkers call (never the global one, which would
        answer with whichever region is healthy)."""
        ...

    @property
    def health_path(self) -> str: ...


class ApiGatewayTarget:
    """A regional API Gateway custom domain for the hostname, mapped to the relay's stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        certificate: acm.ICertificate,
        api: apigw.RestApi,
        stage_name: str,
    ) -> None:
        self.domain = apigw.DomainName(
            scope,
            construct_id,
            domain_name=domain_name,
            certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # The empty base path: https://<hostname>/v1/messages reaches the stage's /v1/messages.
        self.mapping = apigw.BasePathMapping(
            scope,
            f"{construct_id}Mapping",
            domain_name=self.domain,
            rest_api=api,
            stage=api.deployment_stage,
        )
        self._api = api
        # The configured name, not the stage's token: the health check's path is plain text.
        self._stage_name = stage_name

    @property
    def record_target(self) -> route53.RecordTarget:
        return route53.RecordTarget.from_alias(route53_targets.ApiGatewayDomain(self.domain))

    @property
    def health_host(self) -> str:
        return Fn.join(
            "", [self._api.rest_api_id, ".execute-api.", Aws.REGION, ".", Aws.URL_SUFFIX]
        )

    @property
    def health_path(self) -> str:
        return f"/{self._stage_name}{HEALTH_PATH}"


# Builds this region's target for the hostname, given its certificate.
TargetFactory = Callable[[Construct, acm.ICertificate], RegionalTarget]


def api_gateway_target(domain_name: str, api: apigw.RestApi, stage_name: str) -> TargetFactory:
    def build(scope: Construct, certificate: acm.ICertificate) -> RegionalTarget:
        return ApiGatewayTarget(
            scope,
            "Domain",
            domain_name=domain_name,
            certificate=certificate,
            api=api,
            stage_name=stage_name,
        )

    return build


@dataclass(frozen=True)
class GlobalEndpointProps:
    domain: Domain
    # The relay's name (record set identifiers) and region (latency records).
    relay_name: str
    region: str
    target: TargetFactory
    # This relay answers callers no location matches (geolocation routing).
    is_default: bool = False


@dataclass(frozen=True)
class _Answer:
    set_identifier: str
    region: str | None = None
    geo_location: route53.GeoLocation | None = None


def geo_location(location: str) -> route53.GeoLocation:
    """A `relaykit.domain.locations` entry ("continent:AS", "country:HK", "subdivision:US-CA")."""
    kind, _, code = location.partition(":")
    if kind == "continent":
        return route53.GeoLocation.continent(route53.Continent(_CONTINENTS[code]))
    if kind == "country":
        return route53.GeoLocation.country(code)
    country, _, subdivision = code.partition("-")
    return route53.GeoLocation.subdivision(subdivision, country)


_CONTINENTS = {
    "AF": "AFRICA",
    "AN": "ANTARCTICA",
    "AS": "ASIA",
    "EU": "EUROPE",
    "NA": "NORTH_AMERICA",
    "OC": "OCEANIA",
    "SA": "SOUTH_AMERICA",
}


class GlobalEndpoint(Construct):
    """Provisions this region's certificate, target, health check and records for the hostname.

    `props.target` builds the regional endpoint from the certificate (`api_gateway_target`).
    Attributes: `zone`, `certificate`, `target`, `health_check`, `records`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlobalEndpointProps) -> None:
        super().__init__(scope, construct_id)
        domain = props.domain
        self.zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
        )
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain.name,
            validation=acm.CertificateValidation.from_dns(self.zone),
        )
        self.target = props.target(self, self.certificate)
        self.health_check = route53.HealthCheck(
            self,
            "HealthCheck",
            type=route53.HealthCheckType.HTTPS,
            fqdn=self.target.health_host,
            resource_path=self.target.health_path,
            port=443,
            enable_sni=True,
            request_interval=HEALTH_CHECK_INTERVAL,
            failure_threshold=FAILURE_THRESHOLD,
        )
        self.records = [
            route53.ARecord(
                self,
                f"Record{i}",
                zone=self.zone,
                record_name=domain.name,
                target=self.target.record_target,
                health_check=self.health_check,
                set_identifier=answer.set_identifier,
                region=answer.region,
                geo_location=answer.geo_location,
            )
            for i, answer in enumerate(self._answers(props))
        ]

    @staticmethod
    def _answers(props: GlobalEndpointProps) -> list[_Answer]:
        """One record per answer this region gives: its region, or each of its locations."""
        name = props.relay_name
        if props.domain.routing is DomainRouting.LATENCY:
            return [_Answer(name, region=props.region)]
        answers = [
            _Answer(f"{name}-{location.replace(':', '-')}", geo_location=geo_location(location))
            for location in props.domain.locations.get(name, ())
        ]
        if props.is_default:
            answers.append(_Answer(f"{name}-default", geo_location=route53.GeoLocation.default()))
        return answers
