"""A relay run by Fargate tasks: the relay's tables and spool (`RelayState`) and its compute
(`FargateCompute`), with exactly the grants and environment the Lambda relay has.

There is no API Gateway, authorizer or usage plan in front: the relay checks each key against
its table itself (RELAY_AUTH=keys) and applies the key's own limits and budgets; WAF, when
enabled, sits on the load balancer.
"""

from __future__ import annotations

from constructs import Construct

from stacks.aws.config import relay_role_name
from stacks.aws.constructs.fargate import FargateCompute, FargateComputeProps
from stacks.aws.constructs.relay import RelayProps, RelayState


class FargateRelay(RelayState):
    """Provisions `compute` (VPC, cluster, service, load balancer) beside the relay's tables.

    Attributes: `compute`, `role` (the task role), and those of `RelayState`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: RelayProps) -> None:
        super().__init__(scope, construct_id, props)
        site = props.site
        self.compute = FargateCompute(
            self,
            "Fargate",
            FargateComputeProps(
                name=site.api_name,
                settings=site.fargate,
                environment=tuple(sorted(self.relay_environment(props).items())),
                description=(
                    f"Claude relay ({site.name}) tasks calling Bedrock in {site.bedrock_region}"
                ),
                role_name=relay_role_name(props.settings.prefix, site),
                certificate_from_domain=props.settings.domain is not None,
            ),
        )
        self.role = self.compute.task_role
        self.grant_relay(self.role, props)
        self.attach_web_acl(props, self.compute.load_balancer.load_balancer_arn)
