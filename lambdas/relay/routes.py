"""HTTP endpoints: parse, call the core and a backend, render. Nothing is decided here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay import offload, sse
from relay.auth import authenticate, authorize, permits
from relay.backends.base import Event, Stream
from relay.body import read_json as read_body
from relay.core import (
    Plan,
    Presenter,
    Route,
    Routes,
    add_usage,
    find_model,
    model_info,
    model_page,
    plan_count,
    plan_message,
    router_info,
)
from relay.downgrade import downgrades, reservation
from relay.errors import ApiError, ErrorType, not_found
from relay.hedge_loser import settle_loser
from relay.keys import ApiKey
from relay.ledger import Admission
from relay.log import logger
from relay.meter import Meter
from relay.pricing import estimate_input_tokens
from relay.reachability import health_report
from relay.resilience import Outcome
from relay.services import Services
from relay.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Exchange:
    """The outcome of one Messages call: a message, or (streamed) its events."""

    plan: Plan
    headers: dict[str, str]
    message: dict[str, Any] | None = None
    events: AsyncIterator[Event] | None = None


class Handlers:
    """The relay's routes, bound to one configuration, route table and set of services."""

    def __init__(self, settings: Settings, routes: Routes, services: Services) -> None:
        self.settings = settings
        self.routes = routes
        self.services = services

    async def health(self, request: Request) -> Response:
        """Liveness and Bedrock reachability (cached probe): no key, no model call."""
        reachability = self.services.reachability
        found = await reachability.current() if reachability is not None else None
        status, body = health_report(self.settings.bedrock_region, found)
        return JSONResponse(body, status_code=status)

    async def authenticate(self, request: Request) -> ApiKey:
        """The caller's key (looked up once per request), or an authentication error."""
        key: ApiKey | None = getattr(request.state, "key", None)
        if key is None:
            keys = self.services.keys
            key = await offload.call(keys, authenticate, request.headers, self.settings, keys)
            request.state.key = key
            request.state.facts["key_id"] = key.key_id
        return key

    async def list_models(self, request: Request) -> Response:
        return JSONResponse(model_page(await self.model_infos(request)))

    async def get_model(self, request: Request) -> Response:
        return JSONResponse(await self.model_info(request))

    async def model_infos(self, request: Request) -> list[dict[str, Any]]:
        """The models the caller's key may use, each with the route the relay invokes."""
        key = await self.authenticate(request)
        infos = [model_info(r.model, r) for r in self.routes.primaries() if permits(key, r.model)]
        routers = (self._router_info(name, key) for name in self.routes.routers.names())
        return infos + [info for info in routers if info is not None]

    def _router_info(self, name: str, key: ApiKey) -> dict[str, Any] | None:
        """A router as a model, for a key that may use at least one model it can pick."""
        models = [m for m in self.routes.router_models(name) if permits(key, m)]
        return router_info(name, models) if models else None

    async def model_info(self, request: Request) -> dict[str, Any]:
        """One model the caller's key may use; one it may not is not found, as if not served."""
        key = await self.authenticate(request)
        name = request.path_params["model_id"]
        if name in self.routes.routers.names():
            info = self._router_info(name, key)
            if info is None:
                raise not_found(f"model: {name}")
            return info
        route = find_model(name, self.routes)
        if not permits(key, route.model):
            raise not_found(f"model: {name}")
        return model_info(route.model, route)

    async def count_tokens(self, request: Request) -> Response:
        key = await self.authenticate(request)
        body = await self.read_json(request)
        plan = plan_count(body, _betas(request), self.settings, self.routes, key)
        authorize(key, plan.model)
        _note(request, plan)
        outcome = await self._run(
            plan, lambda route: route.backend.count_tokens(route.call(plan.body))
        )
        return JSONResponse({"input_tokens": outcome.value}, headers=_headers(plan, outcome))

    async def messages(self, request: Request) -> Response:
        exchange = await self.exchange(request, await self.read_json(request))
        if exchange.events is not None:
            return sse.EventStreamResponse(sse.encode_stream(exchange.events), exchange.headers)
        return JSONResponse(exchange.message, headers=exchange.headers)

    async def exchange(self, request: Request, body: object) -> Exchange:
        """One Messages call, plain or streamed: authenticated, limited, retried and failed over,
        metered and logged. The seam every API shape (Anthropic's, OpenAI's) goes through; `body`
        is an Anthropic Messages request."""
        key = await self.authenticate(request)
        plan = plan_message(body, _betas(request), self.settings, self.routes, key)
        authorize(key, plan.model)
        _note(request, plan)
        cache_key = self._cache_key(request, key, plan)
        if cache_key is not None:
            hit = await self._cached(request, key, plan, cache_key)
            if hit is not None:
                return hit
        plan, admission = await self._admit(request, key, plan, body)
        ledger = self.services.ledger
        meter = self._meter(request, plan, admission)
        try:
            if plan.stream:
                opened = await self._run(plan, lambda route: _open(route, plan.body), stream=True)
                await settle_loser(request, plan, admission, ledger, opened)
                _note_latency(request, opened)
                stream, first = opened.value
                meter.served(opened)
                headers = {**_headers(plan, opened), **admission.headers}
                presenter = Presenter(plan, opened.route.model)
                events = self._events(meter, presenter, stream, first)
                return Exchange(plan, headers, events=events)
            invoked = await self._run(
                plan, lambda route: route.backend.invoke(route.call(plan.body))
            )
        except ApiError as error:
            await meter.finish({}, status=error)
            raise
        except Exception:
            # Still one record, and the budget reservation released.
            await meter.finish({}, status=ApiError(ErrorType.API, "unhandled", "unhandled"))
            raise
        meter.served(invoked)
        message, metrics = invoked.value
        usage = message.get("usage") or {}
        await meter.finish(usage, provider=metrics)
        reply = Presenter(plan, invoked.route.model).message(message)
        headers = {**_headers(plan, invoked), **admission.headers}
        if cache_key is not None and self.services.cache is not None:
            ttl = self.settings.cache_ttl_seconds
            await run_in_threadpool(self.services.cache.remember, cache_key, reply, ttl)
            headers["x-cache"] = "miss"
        return Exchange(plan, headers, message=reply)

    async def _admit(
        self, request: Request, key: ApiKey, plan: Plan, body: object
    ) -> tuple[Plan, Admission]:
        """Count the request against the key's limits and reserve its cost; past what the
        budget covers at the model asked for, the first of the key's cheaper models that fits
        (relay.downgrade) is reserved and its plan returned instead."""
        # Walking the body for an estimate is only worth it when a budget needs a reservation.
        estimate = reservation(plan) if key.budgeted else Decimal(0)
        cheaper = downgrades(plan, body, _betas(request), self.settings, self.routes, key)
        ledger = self.services.ledger
        if not cheaper:
            return plan, await offload.call(ledger, ledger.admit, key, estimate)
        costs = [reservation(p) for p in cheaper]
        admission = await offload.call(ledger, ledger.admit, key, estimate, costs)
        chosen = (plan, *cheaper)[admission.choice]
        _note(request, chosen)
        return chosen, admission

    async def _run(
        self, plan: Plan, call: Callable[[Route], Awaitable[T]], *, stream: bool = False
    ) -> Outcome[T, Route]:
        """`call` along the plan's routes with retries and failover; for a `stream` (a call
        that returns at the first event) also latency failover and hedging."""
        resilience = self.services.resilience
        try:
            if stream:
                size = partial(estimate_input_tokens, plan.body)
                return await resilience.run_hedged(plan.routes, _breaker, call, size)
            return await resilience.run(plan.routes, _breaker, call)
        except ApiError as error:
            if error.type is ErrorType.RATE_LIMIT and "retry-after" not in error.headers:
                retry = str(self.settings.retry_after_seconds)
                headers = {**error.headers, "retry-after": retry}
                raise dataclasses.replace(error, headers=headers) from None
            raise

    def _meter(
        self, request: Request, plan: Plan, admission: Admission, cached: bool = False
    ) -> Meter:
        ledger, metrics = self.services.ledger, self.settings.metrics
        return Meter(request, plan, admission, ledger, metrics=metrics, cached=cached)

    def _cache_key(self, request: Request, key: ApiKey, plan: Plan) -> str | None:
        """The cache key of a non-streamed request that opted in (by key or header), within the
        key's cache scope."""
        wanted = request.headers.get("x-relay-cache", "on" if key.cache else "off")
        if plan.stream or wanted != "on" or self.services.cache is None:
            return None
        canonical = json.dumps(
            [key.cache_scope, plan.model.anthropic_id, plan.body], sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    async def _cached(
        self, request: Request, key: ApiKey, plan: Plan, cache_key: str
    ) -> Exchange | None:
        assert self.services.cache is not None
        reply = await run_in_threadpool(self.services.cache.cached, cache_key)
        if reply is None:
            return None
        # A cached reply costs the key nothing; it is still one request of its rate.
        ledger = self.services.ledger
        admission = await offload.call(ledger, ledger.admit, key, Decimal(0))
        meter = self._meter(request, plan, admission, cached=True)
        await meter.finish({})
        headers = {**_headers(plan), **admission.headers, "x-cache": "hit"}
        return Exchange(plan, headers, message=reply)

    async def _events(
        self, meter: Meter, presenter: Presenter, stream: Stream, first: Event | None
    ) -> AsyncIterator[Event]:
        """The stream's events as the client sees them; a failure becomes a final error event.
        Whatever ends the stream (the end, an error, the client leaving), it is metered."""
        usage: dict[str, Any] = {}
        error: ApiError | None = None
        completed = False
        try:
            if first is not None:
                add_usage(usage, first)
                meter.saw(first)
                for shown in presenter.events(first):
                    yield shown
            async for event in stream.events:
                add_usage(usage, event)
                meter.saw(event)
                for shown in presenter.events(event):
                    yield shown
            completed = True
        except ApiError as failure:
            error = failure
            yield failure.payload()
        except Exception:
            # A failure no backend mapped still ends the stream in the API's shape, recorded.
            logger.exception("stream failed")
            error = ApiError(ErrorType.API, "The stream failed.", "stream_failed")
            yield error.payload()
        finally:
            # Shielded: a client that went away is still charged for what was generated.
            with anyio.CancelScope(shield=True):
                await stream.close()
                await meter.finish(
                    usage,
                    provider=stream.metrics,
                    status=error,
                    disconnected=not completed and error is None,
                )

    async def read_json(self, request: Request) -> object:
        settings = self.settings
        return await read_body(request, settings.max_body_bytes, settings.body_timeout)


def _betas(request: Request) -> list[str]:
    return request.headers.getlist("anthropic-beta")


def _breaker(route: Route) -> str:
    """A breaker per route and model: one model failing (or lacking access) on a route does not
    move the others."""
    return f"{route.label}/{route.model_id}"


async def _open(route: Route, body: dict[str, Any]) -> tuple[Stream, Event | None]:
    """Start a stream and read its first event, so a failure before the client has seen a byte
    can still be retried or failed over."""
    stream = await route.backend.stream(route.call(body))
    try:
        return stream, await anext(stream.events, None)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await stream.close()
        raise


def _headers(plan: Plan, served: Outcome[Any, Route] | None = None) -> dict[str, str]:
    headers = {}
    if plan.warning is not None:
        headers["warning"] = f'299 - "{plan.warning}"'
    if plan.route is not None:
        headers["x-relay-route"] = plan.route.label
    if served is not None:
        headers["x-relay-backend"] = served.route.label
        headers["x-relay-model-id"] = served.route.model_id
        headers["x-relay-attempts"] = str(served.attempts)
        if served.failed_over or plan.downgraded:
            headers["x-relay-fallback"] = served.route.model.anthropic_id
    return headers


def _note_latency(request: Request, opened: Outcome[Any, Route]) -> None:
    """SlowFailovers, Hedges and HedgeWins on the request line where they happened."""
    request.state.facts.update({k: v for k, v in opened.latency_counts().items() if v})


def _note(request: Request, plan: Plan) -> None:
    facts = request.state.facts
    # The model asked for, and the one that serves it (an alias, or a family's newest).
    facts.update(requested_model=plan.requested, model=plan.model.alias, stream=plan.stream)
    if plan.route is not None:
        facts["route"] = plan.route.label  # router and rule names only, never the prompt
    if plan.downgraded:
        facts["downgraded"] = True
    if plan.dropped:
        # Names of fields and beta flags only, never their values.
        facts["dropped"] = list(plan.dropped)
