"""E-mail notification channels shared by the budget and the alert policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True)
class AlertEmailsArgs:
    project: str
    emails: Sequence[str]


class AlertEmails(pulumi.ComponentResource):
    """One Cloud Monitoring e-mail channel per address; `names` feed budgets and alerts."""

    channels: list[gcp.monitoring.NotificationChannel]
    names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: AlertEmailsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("claude-relay-kit:gcp:AlertEmails", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-{index}",
                project=args.project,
                type="email",
                display_name=f"Claude on Vertex AI: {email}",
                labels={"email_address": email},
                opts=child,
            )
            for index, email in enumerate(args.emails)
        ]
        self.names = [channel.name for channel in self.channels]
        self.register_outputs({"channels": self.names})
