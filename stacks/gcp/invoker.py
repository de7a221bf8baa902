"""The identity that calls Claude: a service account holding one custom role with one permission."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# rawPredict and streamRawPredict on publishers/anthropic/models/* are authorised by this
# permission (the one `roles/aiplatform.user` carries for prediction), and nothing else is needed
# to call Claude. The predefined role would also allow creating endpoints, jobs and datasets.
INVOKE_PERMISSIONS: tuple[str, ...] = ("aiplatform.endpoints.predict",)


@dataclass(frozen=True)
class VertexInvokerArgs:
    project: str
    prefix: str
    create_key: bool = False


class VertexInvoker(pulumi.ComponentResource):
    """A service account bound, as a member, to a custom role holding only
    `aiplatform.endpoints.predict`. A JSON key is created only when `create_key` is set, and its
    private half is a Pulumi secret."""

    account: gcp.serviceaccount.Account
    role: gcp.projects.IAMCustomRole
    binding: gcp.projects.IAMMember
    key: gcp.serviceaccount.Key | None
    email: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: VertexInvokerArgs,
        opts: pulumi.ResourceOptions | None = None,
        permissions: Sequence[str] = INVOKE_PERMISSIONS,
    ) -> None:
        super().__init__("claude-relay-kit:gcp:VertexInvoker", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=f"{args.prefix}-vertex-invoker",
            display_name="Claude on Vertex AI invoker",
            description="Calls Claude models on Vertex AI for the relay; holds predict only.",
            opts=child,
        )
        # Custom role ids allow letters, digits, _ and . only; a deleted role id stays reserved
        # for 7 days, hence the prefix makes a rebuilt stack choose a fresh one if needed.
        self.role = gcp.projects.IAMCustomRole(
            f"{name}-role",
            project=args.project,
            role_id=f"{args.prefix.replace('-', '_')}_vertex_invoker",
            title="Claude on Vertex AI invoker",
            description="Only the permission rawPredict/streamRawPredict on publisher models need.",
            permissions=list(permissions),
            stage="GA",
            opts=child,
        )
        self.email = self.account.email
        self.binding = gcp.projects.IAMMember(
            f"{name}-predict",
            project=args.project,
            role=self.role.name,
            member=self.account.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=child,
        )
        self.key = None
        if args.create_key:
            self.key = gcp.serviceaccount.Key(
                f"{name}-key",
                service_account_id=self.account.name,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["private_key"]),
            )
        self.register_outputs({"email": self.email, "role": self.role.name})
