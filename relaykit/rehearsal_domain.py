"""The global hostname in the deploy rehearsal: moto's Route 53 gets the hosted zone first.

`relaykit.domain` names a hosted zone of the account by id; moto starts empty and makes up its
own ids. So before a deploy whose context has a domain block, the rehearsal creates a public
zone of `hostedZoneName` in moto and deploys with that zone's id in place of the configured one:
the only change to the operator's configuration, and one a real account does not need.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

DOMAIN_CONTEXT = "relaykit.domain"


def with_rehearsal_zone(context: Mapping[str, str], route53: Any) -> dict[str, str]:
    """`context` with `relaykit.domain.hostedZoneId` pointing at a zone `route53` holds (made
    once per zone name); unchanged without a domain block."""
    raw = context.get(DOMAIN_CONTEXT)
    if raw is None:
        return dict(context)
    domain: dict[str, Any] = json.loads(raw)
    name = str(domain.get("hostedZoneName", "")).rstrip(".")
    zones = route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
    existing = [z["Id"] for z in zones if z["Name"].rstrip(".") == name]
    zone_id = (
        existing[0]
        if existing
        else route53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))["HostedZone"][
            "Id"
        ]
    )
    domain["hostedZoneId"] = zone_id.rsplit("/", 1)[-1]
    return {**context, DOMAIN_CONTEXT: json.dumps(domain)}
