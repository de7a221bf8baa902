"""The Message Batches endpoints: parse, call the planning and the batch's edges, render.

Every call is the caller's key's own: a batch is looked up under the key's prefix only, so
another key's batch id is "not found", exactly like an id that never existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from relay import offload
from relay.batches import records
from relay.batches.planning import Planned, plan_requests, split
from relay.batches.service import BatchJobs, part_admission, record_request_id
from relay.batches.state import Batch, Counts, Mode, Part, new_batch_id, now_utc
from relay.core import Presenter
from relay.errors import ApiError, ErrorType, invalid_request, not_found
from relay.keys import ApiKey
from relay.ledger import Admission
from relay.meter import Meter
from relay.usage import UsageRecord

if TYPE_CHECKING:
    from relay.routes import Handlers

_BATCH_ID = re.compile(r"msgbatch_[0-9]{13}[0-9a-f]{16}")
# Requests of an on-demand part in flight at once (each one Bedrock call).
_ON_DEMAND_CONCURRENCY = 16
_LIST_DEFAULT, _LIST_MAX = 20, 1000


class BatchRoutes:
    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers
        self.settings = handlers.settings

    def routes(self) -> list[Route]:
        base = "/v1/messages/batches"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.list, methods=["GET"]),
            Route(base + "/{batch_id}", self.retrieve, methods=["GET"]),
            Route(base + "/{batch_id}", self.delete, methods=["DELETE"]),
            Route(base + "/{batch_id}/cancel", self.cancel, methods=["POST"]),
            Route(base + "/{batch_id}/results", self.results, methods=["GET"]),
        ]

    async def _open(self, request: Request) -> tuple[ApiKey, BatchJobs]:
        key = await self.handlers.authenticate(request)
        batches = self.handlers.services.batches
        if batches is None:
            raise not_found("Message Batches are not enabled on this relay.")
        return key, batches

    async def _batch(self, request: Request) -> tuple[ApiKey, BatchJobs, Batch]:
        """The caller's batch named in the path, its state brought up to date."""
        key, batches = await self._open(request)
        batch_id = request.path_params["batch_id"]
        found = None
        if _BATCH_ID.fullmatch(batch_id):
            found = await run_in_threadpool(batches.store.load, key.key_id, batch_id)
        if found is None or not found.retained(now_utc()):
            raise not_found(f"message_batch_id: no batch {batch_id}")
        await self._refresh(batches, found, key)
        return key, batches, found

    async def _refresh(self, batches: BatchJobs, batch: Batch, key: ApiKey) -> None:
        if not batch.ended and await run_in_threadpool(batches.refresh, batch, key):
            await run_in_threadpool(batches.store.save, batch)

    async def create(self, request: Request) -> Response:
        key, batches = await self._open(request)
        body = await self.handlers.read_json(request)
        settings, handlers = self.settings, self.handlers
        betas = request.headers.getlist("anthropic-beta")
        planned = plan_requests(body, betas, settings, handlers.routes, key)
        parts = split(planned, settings.batch_min_records)
        estimate = sum((p.reserved_usd for p in parts), start=Decimal(0))
        ledger = handlers.services.ledger
        wanted = estimate if key.budgeted else Decimal(0)
        admission = await offload.call(ledger, ledger.admit, key, wanted, whole=True)
        now = now_utc()
        batch = Batch(
            id=new_batch_id(now),
            key_id=key.key_id,
            created_at=now,
            custom_ids=[item.custom_id for item in planned],
            parts=parts,
            minute=admission.minute,
            on_demand=list(dict.fromkeys(p.model for p in parts if p.mode is Mode.ON_DEMAND)),
        )
        request.state.facts.update(batch_id=batch.id, batch_requests=len(planned))
        try:
            await run_in_threadpool(batches.submit, batch, planned)
            await run_in_threadpool(batches.store.save, batch)
        except BaseException as failure:
            # Nothing runs: what was written goes, and the reservation goes back.
            with anyio.CancelScope(shield=True):
                prefix = batches.store.prefix(batch.key_id, batch.id)
                await run_in_threadpool(batches.store.delete_prefix, prefix)
                await self._release(batch, admission, failure)
            raise
        for number, part in enumerate(batch.parts):
            if part.mode is Mode.ON_DEMAND:
                await self._run_on_demand(batches, batch, number, part, key, planned)
        if batch.on_demand:
            await run_in_threadpool(batches.store.save, batch)
        return JSONResponse(_view(batch))

    async def _release(self, batch: Batch, admission: Admission, failure: BaseException) -> None:
        code = failure.code if isinstance(failure, ApiError) else "unhandled"
        record = UsageRecord(
            request_id=batch.id,
            key_id=batch.key_id,
            model=batch.parts[0].model,
            backend="batch",
            model_id="",
            status=code or "batch_not_submitted",
        )
        ledger = self.handlers.services.ledger
        await offload.call(ledger, ledger.settle, admission, record)

    async def _run_on_demand(
        self,
        batches: BatchJobs,
        batch: Batch,
        number: int,
        part: Part,
        key: ApiKey,
        planned: list[Planned],
    ) -> None:
        """The part's requests through the normal path (retries, failover, metering), at
        on-demand prices; their results written as a Bedrock part's are."""
        lines: dict[int, bytes] = {}
        counts = Counts()
        limiter = anyio.CapacityLimiter(_ON_DEMAND_CONCURRENCY)

        async def one(position: int, index: int) -> None:
            async with limiter:
                admission = part_admission(key, batch, part, position == 0)
                result = await self._invoke(batch, index, planned[index], admission)
            counts.add(result["type"])
            lines[index] = records.result_line(batch.custom_ids[index], result)

        async with anyio.create_task_group() as group:
            for position, index in enumerate(part.indexes):
                group.start_soon(one, position, index)
        prefix = batches.store.prefix(batch.key_id, batch.id)
        ordered = [lines[i] for i in part.indexes]
        await run_in_threadpool(batches.store.put_lines, f"{prefix}results/{number}.jsonl", ordered)
        part.counts, part.ended_at = counts, now_utc()

    async def _invoke(
        self, batch: Batch, index: int, item: Planned, admission: Admission
    ) -> dict[str, Any]:
        plan, handlers = item.plan, self.handlers
        # The meter reads the request id and notes facts from a request's state.
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/messages",
            "headers": [],
            "state": {"request_id": record_request_id(batch.id, index), "facts": {}},
        }
        ledger, metrics = handlers.services.ledger, self.settings.metrics
        meter = Meter(Request(scope), plan, admission, ledger, metrics=metrics)
        try:
            invoked = await handlers._run(
                plan, lambda route: route.backend.invoke(route.call(plan.body))
            )
        except ApiError as error:
            await meter.finish({}, status=error)
            return records.errored(error.type, error.message)
        except Exception:
            failed = ApiError(ErrorType.API, "The request failed.", "unhandled")
            await meter.finish({}, status=failed)
            return records.errored(failed.type, failed.message)
        meter.served(invoked)
        message, provider = invoked.value
        await meter.finish(message.get("usage") or {}, provider=provider)
        reply = Presenter(plan, invoked.route.model).message(message)
        return {"type": "succeeded", "message": reply}

    async def retrieve(self, request: Request) -> Response:
        _, _, batch = await self._batch(request)
        return JSONResponse(_view(batch))

    async def list(self, request: Request) -> Response:
        key, batches = await self._open(request)
        query = request.query_params
        limit = _limit(query.get("limit"))
        ids = await run_in_threadpool(batches.store.batch_ids, key.key_id)
        before, after = query.get("before_id"), query.get("after_id")
        if before:
            newer = [i for i in ids if i < before]
            page, has_more = newer[-limit:], len(newer) > limit
        else:
            older = [i for i in ids if i > after] if after else ids
            page, has_more = older[:limit], len(older) > limit
        shown = []
        for batch_id in page:
            batch = await run_in_threadpool(batches.store.load, key.key_id, batch_id)
            if batch is not None and batch.retained(now_utc()):
                await self._refresh(batches, batch, key)
                shown.append(_view(batch))
        return JSONResponse(
            {
                "data": shown,
                "has_more": has_more,
                "first_id": shown[0]["id"] if shown else None,
                "last_id": shown[-1]["id"] if shown else None,
            }
        )

    async def cancel(self, request: Request) -> Response:
        _key, batches, batch = await self._batch(request)
        if not batch.ended and batch.cancel_initiated_at is None:
            batch.cancel_initiated_at = now_utc()
            await run_in_threadpool(batches.cancel, batch)
            await run_in_threadpool(batches.store.save, batch)
        return JSONResponse(_view(batch))

    async def delete(self, request: Request) -> Response:
        _, batches, batch = await self._batch(request)
        if not batch.ended:
            raise invalid_request(
                f"Batch {batch.id} is still processing: cancel it, and delete it once it has "
                "ended.",
                "batch_in_progress",
            )
        prefix = batches.store.prefix(batch.key_id, batch.id)
        await run_in_threadpool(batches.store.delete_prefix, prefix)
        return JSONResponse({"id": batch.id, "type": "message_batch_deleted"})

    async def results(self, request: Request) -> Response:
        _, batches, batch = await self._batch(request)
        if not batch.ended:
            raise invalid_request(
                f"Batch {batch.id} has not ended; its results are available once it has.",
                "batch_in_progress",
            )
        prefix = batches.store.prefix(batch.key_id, batch.id)
        keys = [f"{prefix}results/{n}.jsonl" for n in range(len(batch.parts))]

        def chunks() -> Iterator[bytes]:
            for key in keys:
                yield batches.store.read(key)

        return StreamingResponse(iterate_in_threadpool(chunks()), media_type="application/x-jsonl")


def _view(batch: Batch) -> dict[str, Any]:
    # results_url is a path, which the SDKs join to their base URL: behind API Gateway the relay
    # does not see the stage its clients call it under, so an absolute URL would miss it.
    return batch.view(f"/v1/messages/batches/{batch.id}/results")


def _limit(raw: str | None) -> int:
    if raw is None:
        return _LIST_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= _LIST_MAX:
        raise invalid_request(f"limit: an integer from 1 to {_LIST_MAX} is required")
    return int(raw)
