"""From a create request to a batch's parts: every request validated as `/v1/messages` would
validate it, grouped by model, each group a Bedrock job or (below the minimum) on demand, and
the most it can cost. No I/O."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from relay.batches.state import MAX_REQUESTS, Mode, Part
from relay.catalog import in_batch
from relay.core import Plan, Routes, plan_message
from relay.errors import ApiError, invalid_request
from relay.keys import ApiKey
from relay.pricing import estimate_chain_usd
from relay.settings import Settings

# Anthropic's rule for custom_id.
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True)
class Planned:
    custom_id: str
    plan: Plan


def plan_requests(
    body: object, betas: Iterable[str], settings: Settings, routes: Routes, key: ApiKey
) -> list[Planned]:
    """Each request of a create body planned like a Messages call, or the ApiError of the first
    bad one, naming its custom_id."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise invalid_request("requests: a list of at least one {custom_id, params} is required")
    if len(requests) > MAX_REQUESTS:
        raise invalid_request(f"requests: at most {MAX_REQUESTS:,} requests per batch")
    betas = list(betas)
    planned: list[Planned] = []
    seen: set[str] = set()
    for index, request in enumerate(requests):
        where = f"requests.{index}"
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            raise invalid_request(
                f"{where}.custom_id: 1 to 64 letters, digits, '-' or '_' are required"
            )
        if custom_id in seen:
            raise invalid_request(f"{where}: custom_id {custom_id!r} is not unique in the batch")
        seen.add(custom_id)
        params = request.get("params") if isinstance(request, dict) else None
        if isinstance(params, dict) and params.get("stream"):
            raise invalid_request(
                f"{where} (custom_id {custom_id!r}): params.stream: a batch request cannot stream"
            )
        try:
            plan = plan_message(params, betas, settings, routes, key)
        except ApiError as error:
            message = f"{where} (custom_id {custom_id!r}): {error.message}"
            raise dataclasses.replace(error, message=message) from None
        planned.append(Planned(custom_id, plan))
    return planned


def split(planned: list[Planned], min_records: int) -> list[Part]:
    """One part per model, in the order of first appearance: Bedrock where the model's route is
    Bedrock and the part has at least `min_records` requests, on demand otherwise. Requests with
    tools or structured output are a part of their own, on demand: Bedrock batch inference
    supports neither."""
    groups: dict[tuple[str, bool], list[int]] = {}
    for index, item in enumerate(planned):
        groups.setdefault((item.plan.model.alias, batchable(item.plan)), []).append(index)
    parts = []
    for (alias, fits), indexes in groups.items():
        route = planned[indexes[0]].plan.routes[0]
        bedrock = fits and route.label.startswith("bedrock/") and len(indexes) >= min_records
        mode = Mode.BEDROCK if bedrock else Mode.ON_DEMAND
        reserved = sum((_estimate(planned[i].plan, mode) for i in indexes), start=Decimal(0))
        parts.append(
            Part(
                model=alias,
                mode=mode,
                indexes=indexes,
                backend=route.label,
                model_id=route.model_id,
                premium=route.premium,
                reserved_usd=reserved,
            )
        )
    return parts


def batchable(plan: Plan) -> bool:
    """Whether Bedrock batch inference can run the request: it runs no tools and no structured
    output (each record is one independent call)."""
    output_config = plan.body.get("output_config")
    structured = isinstance(output_config, dict) and "format" in output_config
    return not plan.body.get("tools") and plan.shape.structured is None and not structured


def _estimate(plan: Plan, mode: Mode) -> Decimal:
    """The most one request can cost: at batch prices on its Bedrock job (no fallback there),
    along its whole chain on demand."""
    if mode is Mode.BEDROCK:
        route = plan.routes[0]
        return estimate_chain_usd([(in_batch(route.model), route.premium)], plan.body)
    return estimate_chain_usd(((r.model, r.premium) for r in plan.routes), plan.body)
