"""Entry point of the policy pack: `pulumi preview --policy-pack policy/gcp`."""

from policy.gcp.policies import build_pack

build_pack()
