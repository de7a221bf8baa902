"""The Google APIs the program needs, enabled and left enabled when the stack is destroyed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# Why each API is here; the order is the order they are enabled in.
REQUIRED_SERVICES: tuple[tuple[str, str], ...] = (
    ("aiplatform.googleapis.com", "Vertex AI: rawPredict/streamRawPredict on Claude"),
    ("iam.googleapis.com", "the invoker service account and its custom role"),
    ("iamcredentials.googleapis.com", "federated callers impersonate the invoker"),
    ("sts.googleapis.com", "Security Token Service: exchanges the AWS/OIDC token"),
    ("cloudresourcemanager.googleapis.com", "project-level IAM members"),
    ("cloudquotas.googleapis.com", "quota preferences for the Claude base models"),
    ("billingbudgets.googleapis.com", "the billing budget"),
    ("monitoring.googleapis.com", "dashboard, alert policies, e-mail channels"),
    ("cloudcommerceconsumerprocurement.googleapis.com", "enabling Claude in Model Garden"),
)


@dataclass(frozen=True)
class RequiredServicesArgs:
    project: str
    services: Sequence[str] = tuple(name for name, _ in REQUIRED_SERVICES)


class RequiredServices(pulumi.ComponentResource):
    """Enables each API with `disable_on_destroy=False`: other workloads in the project may use
    them, and turning Vertex AI off on `pulumi destroy` would break them."""

    enabled: dict[str, gcp.projects.Service]

    def __init__(
        self, name: str, args: RequiredServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:RequiredServices", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.enabled = {
            service: gcp.projects.Service(
                f"{name}-{service.split('.', 1)[0]}",
                project=args.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=child,
            )
            for service in args.services
        }
        self.register_outputs({"services": list(self.enabled)})

    @property
    def all(self) -> list[pulumi.Resource]:
        """For `depends_on`: resources that need the APIs on."""
        return list(self.enabled.values())
