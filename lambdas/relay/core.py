"""The relay's core: from a decoded request to a backend call, and back. No I/O, no boto3.

Routes parse HTTP and render; this module decides: which model, which Bedrock id, what body,
and what the client sees of the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relay.backends.base import Call, Event
from relay.catalog import MODELS, Model, UnknownModelError, resolve
from relay.errors import ApiError, invalid_request, not_found
from relay.policy import prepare
from relay.schema import CountTokensRequest, MessagesRequest, parse
from relay.settings import ConfigError, Settings
from relay.targets import BedrockTarget, NoRouteError, bedrock_target


@dataclass(frozen=True)
class Routes:
    """The Bedrock target of every model the deployment serves, computed once at start-up."""

    targets: dict[str, BedrockTarget]

    @classmethod
    def plan(cls, settings: Settings) -> Routes:
        """Targets for the configured models; a named model that cannot be routed is an error,
        while the default set quietly leaves out what the region and routing cannot reach."""
        named = settings.models is not None
        models = settings.models if named else tuple(m for m in MODELS if m.served)
        targets: dict[str, BedrockTarget] = {}
        problems: list[str] = []
        for model in models or ():
            try:
                targets[model.anthropic_id] = bedrock_target(
                    model, settings.bedrock_region, settings.routing
                )
            except NoRouteError as error:
                problems.append(str(error))
        if (named and problems) or not targets:
            raise ConfigError(
                "RELAY_MODELS, RELAY_ROUTING and RELAY_BEDROCK_REGION leave no way to serve: "
                + ("; ".join(problems) or "no model")
            )
        return cls(targets)

    def target(self, name: str) -> tuple[BedrockTarget, str | None]:
        """The target for a model name a client sent, and a warning if the name was a courtesy."""
        try:
            resolved = resolve(name)
        except UnknownModelError:
            raise invalid_request(
                f"model: unknown model '{name}'. This relay serves: {self.served()}",
                "unknown_model",
            ) from None
        target = self.targets.get(resolved.model.anthropic_id)
        if target is None:
            raise invalid_request(
                f"model: '{name}' is not enabled on this relay. It serves: {self.served()}",
                "model_not_enabled",
            )
        return target, resolved.warning

    def served(self) -> str:
        return ", ".join(t.model.alias for t in self.targets.values())

    def models(self) -> list[Model]:
        return [t.model for t in self.targets.values()]


@dataclass(frozen=True)
class Plan:
    """Everything needed to make one backend call and to report on it."""

    target: BedrockTarget
    call: Call
    stream: bool
    warning: str | None
    dropped: tuple[str, ...]

    @property
    def model(self) -> Model:
        return self.target.model


def plan_message(
    body: object, beta_headers: Iterable[str], settings: Settings, routes: Routes
) -> Plan:
    """Validate a Messages request and turn it into a Bedrock call, or raise ApiError."""
    request = parse(MessagesRequest, body)
    target, warning = routes.target(request.model)
    model = target.model
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
    return _plan(target, warning, body, beta_headers, settings, stream=request.stream)


def plan_count(
    body: object, beta_headers: Iterable[str], settings: Settings, routes: Routes
) -> Plan:
    """Validate a count_tokens request and turn it into a Bedrock CountTokens call."""
    request = parse(CountTokensRequest, body)
    target, warning = routes.target(request.model)
    model = target.model
    if not model.bedrock_count_tokens:
        raise invalid_request(
            f"count_tokens is not available for {model.anthropic_id} on Amazon Bedrock; "
            "the relay does not estimate counts",
            "count_tokens_unsupported",
        )
    assert isinstance(body, dict)
    # CountTokens takes an InvokeModel body, which needs max_tokens; it does not change the count.
    body = {**body, "max_tokens": model.max_output_tokens}
    return _plan(target, warning, body, beta_headers, settings, stream=False)


def _plan(
    target: BedrockTarget,
    warning: str | None,
    body: dict[str, Any],
    beta_headers: Iterable[str],
    settings: Settings,
    *,
    stream: bool,
) -> Plan:
    prepared = prepare(body, beta_headers, settings.extra_betas)
    call = Call(target.model_id, prepared.body, count_model_id=target.model.bedrock_id)
    return Plan(target, call, stream, warning, prepared.dropped)


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
        target, _ = routes.target(name)
    except ApiError:
        raise not_found(f"model: {name}") from None
    return target.model


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
