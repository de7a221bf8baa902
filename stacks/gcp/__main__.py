"""Claude on Vertex AI for one GCP project: `pulumi up` wires the components from stack config.

Each concern is a ComponentResource of its own module; this file only reads the config, builds
them in dependency order and exports what a user needs.
"""

from __future__ import annotations

import pulumi

from stacks.gcp import config as stack_config
from stacks.gcp.budget import ProjectBudget, ProjectBudgetArgs
from stacks.gcp.federation import RelayFederation, RelayFederationArgs
from stacks.gcp.guidance import anthropic_vertex_env, model_garden_steps
from stacks.gcp.invoker import VertexInvoker, VertexInvokerArgs
from stacks.gcp.monitoring import ClaudeMonitoring, ClaudeMonitoringArgs
from stacks.gcp.notifications import AlertEmails, AlertEmailsArgs
from stacks.gcp.quotas import ClaudeQuotas, ClaudeQuotasArgs
from stacks.gcp.services import RequiredServices, RequiredServicesArgs

cfg = stack_config.load()
project = cfg.project

services = RequiredServices("apis", RequiredServicesArgs(project=project))
after_apis = pulumi.ResourceOptions(depends_on=services.all)

invoker = VertexInvoker(
    "invoker",
    VertexInvokerArgs(
        project=project, prefix=cfg.prefix, create_key=cfg.create_service_account_key
    ),
    opts=after_apis,
)
federation = RelayFederation(
    "federation",
    RelayFederationArgs(
        project=project,
        prefix=cfg.prefix,
        federation=cfg.federation,
        service_account_name=invoker.account.name,
        service_account_email=invoker.email,
    ),
    opts=after_apis,
)
if cfg.quota.enabled:
    ClaudeQuotas(
        "quotas",
        ClaudeQuotasArgs(
            project=project,
            prefix=cfg.prefix,
            models=cfg.models,
            locations=cfg.regions,
            quota=cfg.quota,
        ),
        opts=after_apis,
    )
emails = AlertEmails("alert-emails", AlertEmailsArgs(project, cfg.alert_emails), opts=after_apis)
budget = ProjectBudget(
    "budget",
    ProjectBudgetArgs(project=project, budget=cfg.budget, notification_channels=emails.names),
    opts=after_apis,
)
monitoring = ClaudeMonitoring(
    "monitoring",
    ClaudeMonitoringArgs(project=project, alerts=cfg.alerts, notification_channels=emails.names),
    opts=after_apis,
)

pulumi.export("project", project)
pulumi.export("serviceAccountEmail", invoker.email)
pulumi.export("region", cfg.primary_region)
pulumi.export("regions", list(cfg.regions))
pulumi.export("models", {m.alias: m.vertex_id for m in cfg.models})
pulumi.export("anthropicVertexEnv", anthropic_vertex_env(project, cfg.primary_region))
pulumi.export("relayPrincipals", federation.relay_principals)
pulumi.export("federationCredentialConfig", federation.credential_config)
pulumi.export(
    "modelGarden",
    {m.alias: model_garden_steps(project, cfg.primary_region, m) for m in cfg.models},
)
pulumi.export("dashboardUrl", monitoring.dashboard_url)
pulumi.export("budgetName", budget.budget.name)
if invoker.key is not None:
    # A secret: `pulumi stack output serviceAccountKey --show-secrets` is the only way to read it.
    pulumi.export("serviceAccountKey", pulumi.Output.secret(invoker.key.private_key))
