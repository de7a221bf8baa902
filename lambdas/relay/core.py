"""The relay's core: from a decoded request to a backend call, and back. No I/O, no boto3.

Routes parse HTTP and render; this module decides: which model, which Bedrock id, what body,
and what the client sees of the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relay.backends.base import Backend, Call, Event
from relay.catalog import MODELS, Model, Routing, UnknownModelError, resolve
from relay.errors import ApiError, invalid_request, not_found
from relay.policy import prepare
from relay.schema import CountTokensRequest, MessagesRequest, parse
from relay.settings import ConfigError, FallbackStep, Settings
from relay.targets import NoRouteError, bedrock_target

BackendFor = Callable[[str, str], Backend]
"""Gives the backend for a kind ("bedrock", "vertex") and a region; built once per pair."""


@dataclass(frozen=True)
class Route:
    """One way to serve a model: a backend, the id it knows the model by, and what it costs."""

    label: str
    backend: Backend
    model: Model
    model_id: str
    premium: bool
    # The id to count tokens with, or "" where this route cannot count them.
    count_model_id: str = ""

    def call(self, body: dict[str, Any]) -> Call:
        return Call(self.model_id, body, count_model_id=self.count_model_id)


def bedrock_route(model: Model, region: str, routing: Routing, backends: BackendFor) -> Route:
    target = bedrock_target(model, region, routing)
    return Route(
        f"bedrock/{region}",
        backends("bedrock", region),
        model,
        target.model_id,
        target.premium,
        model.bedrock_id if model.bedrock_count_tokens else "",
    )


def vertex_route(model: Model, region: str, backends: BackendFor) -> Route:
    if not model.vertex_id:
        raise ConfigError(f"RELAY_FALLBACKS: {model.name} is not offered on Vertex AI")
    premium = region != "global" and model.regional_premium > 0
    return Route(
        f"vertex/{region}", backends("vertex", region), model, model.vertex_id, premium,
        model.vertex_id,
    )  # fmt: skip


@dataclass(frozen=True)
class Routes:
    """For every model the deployment serves, its chain of routes: the primary Bedrock route,
    then the configured fallbacks. Computed once at start-up."""

    chains: dict[str, tuple[Route, ...]]

    @classmethod
    def plan(cls, settings: Settings, backends: BackendFor) -> Routes:
        """A named model that cannot be routed is an error, while the default set quietly
        leaves out what the region and routing cannot reach."""
        named = settings.models is not None
        models = settings.models if named else tuple(m for m in MODELS if m.served)
        chains: dict[str, tuple[Route, ...]] = {}
        problems: list[str] = []
        for model in models or ():
            try:
                primary = bedrock_route(model, settings.bedrock_region, settings.routing, backends)
                steps = settings.fallbacks.get(model.alias, ())
                chains[model.anthropic_id] = (
                    primary,
                    *(_fallback(model, step, settings, backends) for step in steps),
                )
            except NoRouteError as error:
                problems.append(str(error))
        if (named and problems) or not chains:
            raise ConfigError(
                "RELAY_MODELS, RELAY_ROUTING, RELAY_BEDROCK_REGION and RELAY_FALLBACKS leave no "
                "way to serve: " + ("; ".join(problems) or "no model")
            )
        return cls(chains)

    def chain(self, name: str) -> tuple[tuple[Route, ...], str | None]:
        """The routes for a model name a client sent, and a warning if the name was a courtesy."""
        try:
            resolved = resolve(name)
        except UnknownModelError:
            raise invalid_request(
                f"model: unknown model '{name}'. This relay serves: {self.served()}",
                "unknown_model",
            ) from None
        chain = self.chains.get(resolved.model.anthropic_id)
        if chain is None:
            raise invalid_request(
                f"model: '{name}' is not enabled on this relay. It serves: {self.served()}",
                "model_not_enabled",
            )
        return chain, resolved.warning

    def served(self) -> str:
        return ", ".join(m.alias for m in self.models())

    def models(self) -> list[Model]:
        return [chain[0].model for chain in self.chains.values()]


def _fallback(model: Model, step: FallbackStep, settings: Settings, backends: BackendFor) -> Route:
    if step.kind == "bedrock":
        assert step.region is not None
        return bedrock_route(model, step.region, step.routing or settings.routing, backends)
    if step.kind == "vertex":
        return vertex_route(model, step.region or settings.vertex_region, backends)
    assert step.model is not None
    return bedrock_route(step.model, settings.bedrock_region, settings.routing, backends)


@dataclass(frozen=True)
class Plan:
    """Everything needed to make a backend call along a chain of routes and to report on it."""

    routes: tuple[Route, ...]
    body: dict[str, Any]
    stream: bool
    warning: str | None
    dropped: tuple[str, ...]

    @property
    def model(self) -> Model:
        """The model asked for (a fallback may serve another)."""
        return self.routes[0].model


def plan_message(
    body: object, beta_headers: Iterable[str], settings: Settings, routes: Routes
) -> Plan:
    """Validate a Messages request and turn it into a chain of calls, or raise ApiError."""
    request = parse(MessagesRequest, body)
    chain, warning = routes.chain(request.model)
    model = chain[0].model
    if request.max_tokens > model.max_output_tokens:
        raise invalid_request(
            f"max_tokens: {request.max_tokens} > {model.max_output_tokens}, which is the maximum "
            f"allowed number of output tokens for {model.anthropic_id}",
            "max_tokens_too_large",
        )
    thinking = request.thinking
    if thinking and thinking.budget_tokens and thinking.budget_tokens >= request.max_tokens:
        raise invalid_request(
            "thinking.budget_tokens: must be less than max_tokens", "thinking_budget"
        )
    assert isinstance(body, dict)  # parse() accepted it
    # A fallback to another model must not ask it for more than it can write.
    usable = tuple(r for r in chain if r.model.max_output_tokens >= request.max_tokens)
    return _plan(usable, warning, body, beta_headers, settings, stream=request.stream)


def plan_count(
    body: object, beta_headers: Iterable[str], settings: Settings, routes: Routes
) -> Plan:
    """Validate a count_tokens request and turn it into CountTokens calls, or raise ApiError."""
    request = parse(CountTokensRequest, body)
    chain, warning = routes.chain(request.model)
    model = chain[0].model
    # Counting the same model elsewhere gives the same count; another model would not.
    counting = tuple(r for r in chain if r.count_model_id and r.model == model)
    if not counting:
        raise invalid_request(
            f"count_tokens is not available for {model.anthropic_id} on the providers this "
            "relay uses; the relay does not estimate counts",
            "count_tokens_unsupported",
        )
    assert isinstance(body, dict)
    # CountTokens takes an InvokeModel body, which needs max_tokens; it does not change the count.
    body = {**body, "max_tokens": model.max_output_tokens}
    return _plan(counting, warning, body, beta_headers, settings, stream=False)


def _plan(
    routes: tuple[Route, ...],
    warning: str | None,
    body: dict[str, Any],
    beta_headers: Iterable[str],
    settings: Settings,
    *,
    stream: bool,
) -> Plan:
    prepared = prepare(body, beta_headers, settings.extra_betas)
    return Plan(routes, prepared.body, stream, warning, prepared.dropped)


def present_message(message: dict[str, Any], model: Model) -> dict[str, Any]:
    """The message as the Anthropic API would return it: named by the Anthropic model id."""
    return {**message, "model": model.anthropic_id}


def present_event(event: Event, model: Model) -> Event:
    """Stream events pass through; message_start names the Anthropic model id."""
    if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
        return {**event, "message": present_message(event["message"], model)}
    return event


def model_info(model: Model) -> dict[str, Any]:
    """A model in the shape of Anthropic's GET /v1/models."""
    return {
        "type": "model",
        "id": model.anthropic_id,
        "display_name": model.name,
        "created_at": _released(model).isoformat().replace("+00:00", "Z"),
    }


def model_page(models: list[Model]) -> dict[str, Any]:
    data = [model_info(m) for m in models]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def find_model(name: str, routes: Routes) -> Model:
    try:
        chain, _ = routes.chain(name)
    except ApiError:
        raise not_found(f"model: {name}") from None
    return chain[0].model


def _released(model: Model) -> datetime:
    # Anthropic ids end in the release date (claude-haiku-4-5-20251001).
    stamp = model.anthropic_id.rsplit("-", 1)[-1]
    try:
        return datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def add_usage(total: dict[str, Any], event: Event) -> None:
    """Fold the usage a stream event reports into `total` (message_start, then message_delta)."""
    usage = None
    if event.get("type") == "message_start":
        usage = event.get("message", {}).get("usage")
    elif event.get("type") == "message_delta":
        usage = event.get("usage")
    if isinstance(usage, dict):
        total.update({k: v for k, v in usage.items() if v is not None})
