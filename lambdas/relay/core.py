"""The relay's core: from a decoded request to a backend call, and back. No I/O, no boto3.

Routes parse HTTP and render; this module decides: which model, which Bedrock id, what body,
and what the client sees of the answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from relay import structured
from relay.aliases import aliased, family_of
from relay.auth import authorize, permits
from relay.backends.base import Backend, Call, Event
from relay.catalog import CATALOG, Catalog, Model, Routing, UnknownModelError
from relay.conversation import fold_system_messages, has_system_messages
from relay.errors import invalid_request, not_found
from relay.keys import ApiKey
from relay.policy import prepare
from relay.routers import Decision, RouterError, Routers
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


_FIX = (
    "To use a served model: pass it as --model (Claude Code) or `model` (SDKs), or set "
    "ANTHROPIC_MODEL; for Claude Code's opus, sonnet and haiku choices set "
    "ANTHROPIC_DEFAULT_OPUS_MODEL, ANTHROPIC_DEFAULT_SONNET_MODEL and "
    "ANTHROPIC_DEFAULT_HAIKU_MODEL; or ask the relay's operator for an alias "
    "(RELAY_MODEL_ALIASES)."
)


@dataclass(frozen=True)
class Routes:
    """For every model the deployment serves, its chain of routes: the primary Bedrock route,
    then the configured fallbacks; and how names it does not serve are answered. Computed once
    at start-up."""

    chains: dict[str, tuple[Route, ...]]
    catalog: Catalog = CATALOG
    aliases: tuple[tuple[str, str], ...] = ()
    families: bool = False
    routers: Routers = field(default_factory=lambda: Routers({}))
    # Per router, the model its savings are measured against.
    baselines: dict[str, Model] = field(default_factory=dict)

    @classmethod
    def plan(cls, settings: Settings, backends: BackendFor) -> Routes:
        """A named model that cannot be routed is an error, while the default set quietly
        leaves out what the region and routing cannot reach."""
        named = settings.models is not None
        catalog = settings.catalog
        models = settings.models if named else tuple(m for m in catalog.models if m.served)
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
        routes = cls(chains, catalog, settings.model_aliases, settings.family_aliases)
        for pattern, target in settings.model_aliases:
            if routes.served_chain(target) is None:
                raise ConfigError(
                    f"RELAY_MODEL_ALIASES[{pattern!r}]: {target!r} is not a model this relay "
                    f"serves; it serves: {routes.served()}"
                )
        for model in settings.budget_downgrade:
            if model.anthropic_id not in chains:
                raise ConfigError(
                    f"RELAY_BUDGET_DOWNGRADE: {model.alias} is not a model this relay serves; it "
                    f"serves: {routes.served()}"
                )
        return routes.with_routers(settings.routers)

    def with_routers(self, routers: Routers) -> Routes:
        """These routes with `routers` in front; ConfigError names a rule whose model is not
        served, or a router named like a model."""
        try:
            routers.check("RELAY_ROUTERS", self._unserved)
        except RouterError as error:
            raise ConfigError(str(error)) from None
        baselines = {}
        for name in routers.names():
            if self._served(name) is not None or aliased(self.aliases, name) is not None:
                raise ConfigError(f"RELAY_ROUTERS[{name!r}]: the name of a served model or alias")
            chosen = routers.routers[name].baseline
            models = [self._model(m) for m in ([chosen] if chosen else routers.targets(name))]
            baselines[name] = max(models, key=lambda m: (m.prices.output, m.prices.input))
        return dataclasses.replace(self, routers=routers, baselines=baselines)

    def router_models(self, name: str) -> list[Model]:
        """The served models a router's rules can pick."""
        return [self._model(m) for m in self.routers.targets(name)]

    def _unserved(self, name: str) -> str | None:
        return None if self.served_chain(name) else f"not served here; it serves: {self.served()}"

    def _model(self, name: str) -> Model:
        chain = self.served_chain(name)
        assert chain is not None  # checked by with_routers
        return chain[0].model

    def chain(
        self, name: str, may_use: Callable[[Model], bool] = lambda _: True
    ) -> tuple[tuple[Route, ...], str | None]:
        """The routes for a model name a client sent, and a warning if the name was a courtesy:
        a served name, else the operator's alias, else the family rule (the newest served model
        of the family that the caller `may_use`), else a 400 saying
        what is served and how to ask for it."""
        served = self._served(name)
        if served is not None:
            return served
        target = aliased(self.aliases, name)
        family = family_of(name) if self.families else None
        chain = self.served_chain(target) if target is not None else self._newest(family, may_use)
        if chain is not None:
            asked = f"'{name}' is not served by this relay"
            return chain, f"{asked}; served as '{chain[0].model.anthropic_id}'"
        try:
            self.catalog.resolve(name)
        except UnknownModelError:
            raise invalid_request(
                f"model: unknown model '{name}'. This relay serves: {self.served()}. {_FIX}",
                "unknown_model",
            ) from None
        raise invalid_request(
            f"model: '{name}' is not enabled on this relay. It serves: {self.served()}. {_FIX}",
            "model_not_enabled",
        )

    def served_chain(self, name: str) -> tuple[Route, ...] | None:
        """The routes of a name of a served model (no aliases), or None."""
        served = self._served(name)
        return served[0] if served is not None else None

    def _served(self, name: str) -> tuple[tuple[Route, ...], str | None] | None:
        try:
            resolved = self.catalog.resolve(name)
        except UnknownModelError:
            return None
        chain = self.chains.get(resolved.model.anthropic_id)
        return (chain, resolved.warning) if chain is not None else None

    def _newest(
        self, family: str | None, may_use: Callable[[Model], bool]
    ) -> tuple[Route, ...] | None:
        chains = [c for c in self.chains.values() if family and c[0].model.family == family]
        # The caller's own models first; with none of the family, the newest served one, so the
        # key's 403 names the models it may use instead of an "unknown model" 400.
        chains = [c for c in chains if may_use(c[0].model)] or chains
        return max(chains, key=lambda c: c[0].model.released or date.min, default=None)

    def served(self) -> str:
        return ", ".join(m.alias for m in self.models())

    def models(self) -> list[Model]:
        return [chain[0].model for chain in self.chains.values()]

    def primaries(self) -> list[Route]:
        """Each served model's primary route, in catalog order."""
        return [chain[0] for chain in self.chains.values()]


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
    # The model name the client sent (the log line says it beside the model that served it).
    requested: str = ""
    # How the reply is reshaped for the client (emulated fields).
    shape: ReplyShape = field(default_factory=lambda: ReplyShape())
    # The router rule that chose the model, when the client named a router.
    route: Decision | None = None
    # The model savings are measured against; None: the model asked for.
    baseline: Model | None = None
    # Served by a cheaper model because the key's budget would be exceeded at the asked one.
    downgraded: bool = False

    @property
    def model(self) -> Model:
        """The model asked for (a fallback may serve another)."""
        return self.routes[0].model


@dataclass(frozen=True)
class ReplyShape:
    """What the relay emulated for a request, and so must change in its reply."""

    structured: structured.Emulation | None = None
    omit_thinking: bool = False


def plan_message(
    body: object,
    beta_headers: Iterable[str],
    settings: Settings,
    routes: Routes,
    key: ApiKey | None = None,
) -> Plan:
    """Validate a Messages request and turn it into a chain of calls, or raise ApiError.
    The model is resolved (for the caller's `key`) first: an unserved model gets the model error,
    and one the key may not use the permission error, whatever else is wrong with the request."""
    chain, warning, decision = _resolve(body, routes, key)
    request = parse(MessagesRequest, body)
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
    plan = _plan(usable, warning, body, beta_headers, settings, stream=request.stream)
    return _routed(plan, decision, routes)


def plan_count(
    body: object,
    beta_headers: Iterable[str],
    settings: Settings,
    routes: Routes,
    key: ApiKey | None = None,
) -> Plan:
    """Validate a count_tokens request and turn it into CountTokens calls, or raise ApiError."""
    chain, warning, decision = _resolve(body, routes, key)
    parse(CountTokensRequest, body)
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
    plan = _plan(counting, warning, body, beta_headers, settings, stream=False)
    return _routed(plan, decision, routes)


def _routed(plan: Plan, decision: Decision | None, routes: Routes) -> Plan:
    if decision is None:
        return plan
    return dataclasses.replace(plan, route=decision, baseline=routes.baselines[decision.router])


def _resolve(
    body: object, routes: Routes, key: ApiKey | None
) -> tuple[tuple[Route, ...], str | None, Decision | None]:
    """The chain for the body's model, as the caller's key may use it. A key that may not use
    the model hears so before anything about the rest of the body (which would tell it what the
    relay accepts for a model it cannot use). A router's rule picks a served model first; the
    key's permissions apply to that model, not to the router's name."""
    name = _model_name(body)
    decision = None
    if routes.routers:
        assert isinstance(body, dict)  # _model_name found a model in it
        decision = routes.routers.decide(name, body, key.owner if key is not None else "")
        name = decision.model if decision is not None else name
    if key is None:
        return (*routes.chain(name), decision)
    chain, warning = routes.chain(name, partial(permits, key))
    authorize(key, chain[0].model)
    return chain, warning, decision


def _model_name(body: object) -> str:
    """The `model` of a body, checked only as far as resolving it needs."""
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model:
        # parse() names what is wrong with the body or its model.
        parse(CountTokensRequest, body)
        raise invalid_request("model: a model name is required", "validation")
    return model


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
    out = prepared.body
    if has_system_messages(out) and not all(r.model.mid_conversation_system for r in routes):
        out = fold_system_messages(out)
    if not any(m.get("role") != "system" for m in out["messages"]):
        raise invalid_request(
            "messages: at least one user or assistant message is needed; put system "
            "instructions in the top-level 'system' parameter",
            "no_messages",
        )
    emulation = None
    fmt = structured.requested(out)
    native = fmt is not None and structured.closed(fmt["schema"])
    if fmt is not None and not (native and all(_native_structured(r) for r in routes)):
        out = {**out}
        emulation = structured.emulate(out, fmt, routes[0].model.name)
    shape = ReplyShape(emulation, prepared.omit_thinking)
    return Plan(routes, out, stream, warning, prepared.dropped, body["model"], shape)


def _native_structured(route: Route) -> bool:
    return route.label.startswith("bedrock/") and route.model.structured_outputs


class Presenter:
    """The reply as the client sees it: named by the model that served it, with what the
    relay emulated applied. One per reply (a stream's rewriting has state)."""

    def __init__(self, plan: Plan, model: Model) -> None:
        self.model = model
        self.shape = plan.shape
        emulation = plan.shape.structured
        self._rewriter = structured.EventRewriter(emulation) if emulation else None

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.shape.structured is not None:
            message = structured.reply(message, self.shape.structured)
        if self.shape.omit_thinking:
            message = {**message, "content": [_omitted(b) for b in message.get("content") or []]}
        return {**message, "model": self.model.anthropic_id}

    def events(self, event: Event) -> list[Event]:
        """What one backend event becomes: usually itself, sometimes rewritten or nothing."""
        events = self._rewriter.feed(event) if self._rewriter is not None else [event]
        return [e for e in map(self._event, events) if e is not None]

    def _event(self, event: Event) -> Event | None:
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            return {**event, "message": {**event["message"], "model": self.model.anthropic_id}}
        delta = event.get("delta") or {}
        thinking = kind == "content_block_delta" and delta.get("type") == "thinking_delta"
        return None if thinking and self.shape.omit_thinking else event


def _omitted(block: dict[str, Any]) -> dict[str, Any]:
    return {**block, "thinking": ""} if block.get("type") == "thinking" else block


def model_info(model: Model, route: Route | None = None) -> dict[str, Any]:
    """A model in the shape of Anthropic's GET /v1/models, with what the relay invokes for it
    (extra fields, which clients ignore)."""
    info: dict[str, Any] = {
        "type": "model",
        "id": model.anthropic_id,
        "display_name": model.name,
        "created_at": _released(model).isoformat().replace("+00:00", "Z"),
    }
    if route is not None:
        info |= {
            "backend": route.label,
            "invokes": route.model_id,
            "max_output_tokens": model.max_output_tokens,
            "structured_outputs": "native" if _native_structured(route) else "emulated",
        }
    return info


def router_info(name: str, models: list[Model]) -> dict[str, Any]:
    """A router in the shape of a model (clients list and pick it like one), with the models
    its rules can pick."""
    return {
        "type": "model",
        "id": name,
        "display_name": f"{name} (router)",
        "created_at": max(map(_released, models)).isoformat().replace("+00:00", "Z"),
        "router": True,
        "routes_to": [m.anthropic_id for m in models],
    }


def model_page(infos: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": infos,
        "has_more": False,
        "first_id": infos[0]["id"] if infos else None,
        "last_id": infos[-1]["id"] if infos else None,
    }


def find_model(name: str, routes: Routes) -> Route:
    """The primary route of a served model by any of its names (no aliases), or not_found."""
    chain = routes.served_chain(name)
    if chain is None:
        raise not_found(f"model: {name}")
    return chain[0]


def _released(model: Model) -> datetime:
    if model.released is not None:
        return datetime(model.released.year, model.released.month, model.released.day, tzinfo=UTC)
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
