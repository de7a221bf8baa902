"""Budget-triggered downgrade: cheaper models that serve a request the key's budget would not
cover at the model asked for, tried in order before refusing with 429.

The list is the key's own (`relaykit keys create/update --downgrade`), else the relay's
default (`RELAY_BUDGET_DOWNGRADE`). Each downgrade is a plan of its own (its model's chain and
limits), reserved at its own upper-bound cost, so the budget still holds to within one request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal

from relay.auth import permits
from relay.core import Plan, Routes, plan_message
from relay.errors import ApiError
from relay.keys import ApiKey
from relay.pricing import estimate_chain_usd
from relay.settings import Settings


def reservation(plan: Plan) -> Decimal:
    """The most the plan can cost on any of its routes (what a budget reserves)."""
    return estimate_chain_usd(((r.model, r.premium) for r in plan.routes), plan.body)


def downgrades(
    plan: Plan,
    body: object,
    beta_headers: Iterable[str],
    settings: Settings,
    routes: Routes,
    key: ApiKey,
) -> tuple[Plan, ...]:
    """The plans of the key's downgrade models that can serve this request, in order: served,
    allowed to the key, other than the model asked for, and able to take the request (a model
    that cannot write its max_tokens is left out)."""
    names = key.downgrade or tuple(m.anthropic_id for m in settings.budget_downgrade)
    if not key.budgeted or not names or not isinstance(body, dict):
        return ()
    betas = list(beta_headers)
    asked = plan.model
    plans = []
    for name in names:
        chain = routes.served_chain(name)
        if chain is None or chain[0].model == asked or not permits(key, chain[0].model):
            continue
        try:
            down = plan_message({**body, "model": name}, betas, settings, routes, key)
        except ApiError:
            continue
        why = (
            f"the budget of key {key.key_id} would be exceeded at {asked.anthropic_id}; "
            f"served by {down.model.anthropic_id}"
        )
        plans.append(
            dataclasses.replace(
                down,
                requested=plan.requested,
                warning="; ".join(w for w in (plan.warning, why) if w),
                route=plan.route,
                baseline=plan.baseline or asked,
                downgraded=True,
            )
        )
    return tuple(plans)
