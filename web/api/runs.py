"""``/api/events``, ``/api/rejected-deliveries`` and ``/api/runs``: history, details with
every step, replay and cancel; ``/api/queue``: the backlog."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery, QueryParameter

from maillon.engine.models import RunStatus
from maillon.engine.services.runs import MAX_SEARCH, SEARCH_WINDOW, NotDue, ReplayWith
from maillon.web.api.deps import AnyRequest, ServicesDep
from maillon.web.api.schemas import EventOut, QueueOut, RejectedDeliveryOut, RunOut
from maillon.web.auth import actor

__all__ = ["EventController", "QueueController", "RejectedDeliveryController", "RunController"]

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
#: The header of a search's answer that says where it stopped reading.
SEARCHED_TO = "Maillon-Searched-To"


class EventController(Controller):
    path = "/api/events"
    tags = ["events"]

    @get("/")
    async def list_events(
        self,
        services: ServicesDep,
        flow_id: FromQuery[str | None] = None,
        limit: Limit = 50,
        before: FromQuery[str | None] = None,
    ) -> list[EventOut]:
        """Newest first; page with ``before=<last id>``."""
        return [EventOut.of(e) for e in await services.runs.list_events(flow_id, limit, before)]

    @get("/{event_id:str}")
    async def get_event(self, services: ServicesDep, event_id: FromPath[str]) -> EventOut:
        event, runs = await services.runs.get_event(event_id)
        return EventOut.of(event, runs)


class RejectedDeliveryController(Controller):
    path = "/api/rejected-deliveries"
    tags = ["events"]

    @get("/")
    async def list_rejected_deliveries(
        self,
        services: ServicesDep,
        flow_id: FromQuery[str | None] = None,
        limit: Limit = 50,
        before: FromQuery[str | None] = None,
    ) -> list[RejectedDeliveryOut]:
        """Deliveries refused for their signature (401), newest first; page with ``before``."""
        rows = await services.runs.list_rejected(flow_id, limit, before)
        return [RejectedDeliveryOut.of(r) for r in rows]


class RunController(Controller):
    path = "/api/runs"
    tags = ["runs"]

    @get(
        "/",
        response_headers=[
            ResponseHeader(
                name=SEARCHED_TO,
                documentation_only=True,
                description="Of a search (`containing`) that read its window of runs without "
                "filling the page: the oldest run it read. Older runs are yet to be searched: "
                "ask again with `before` set to it.",
            )
        ],
    )
    async def list_runs(
        self,
        services: ServicesDep,
        flow_id: FromQuery[str | None] = None,
        status: FromQuery[RunStatus | None] = None,
        # "state" is a name Litestar keeps for its own: the query's key is given apart.
        not_due: Annotated[
            NotDue | None,
            QueryParameter(
                name="state",
                description="Only queued runs not due yet, for this reason (as their `state` "
                "says); it takes the place of `status`.",
            ),
        ] = None,
        limit: Limit = 50,
        before: FromQuery[str | None] = None,
        containing: Annotated[
            str | None,
            QueryParameter(
                max_length=MAX_SEARCH,
                description="Only runs whose event (its JSON) or error contains this text, in "
                f"any case. A search reads {SEARCH_WINDOW:,} runs at most: see the "
                f"`{SEARCHED_TO}` header.",
            ),
        ] = None,
    ) -> Response[list[RunOut]]:
        """Newest first; filter by flow and status (or a queued run's reason to wait), or
        search them by content; page with ``before=<last id>``."""
        if containing is None:
            runs = await services.runs.list_runs(flow_id, not_due or status, limit, before)
            return Response([RunOut.of(r) for r in runs])
        found = await services.runs.search(
            containing, flow_id, not_due or status, None, limit, before=before
        )
        headers = {SEARCHED_TO: found.searched_to} if found.searched_to else {}
        return Response([RunOut.of(line.run) for line in found.lines], headers=headers)

    @get("/{run_id:str}")
    async def get_run(self, services: ServicesDep, run_id: FromPath[str]) -> RunOut:
        """A run with every step, and its replays with the failure each replaced."""
        return RunOut.of(*await services.runs.history(run_id))

    @post("/{run_id:str}/replay", status_code=200)
    async def replay_run(
        self,
        services: ServicesDep,
        request: AnyRequest,
        run_id: FromPath[str],
        version: FromQuery[ReplayWith] = ReplayWith.RAN,
    ) -> RunOut:
        """Run a failed, held or cancelled run again from its first step that did not succeed, with
        the flow version it ran (``version=ran``) or the flow's published version now
        (``version=current``; the steps that succeeded are not run again). The failure it
        replaces is kept: ``GET /api/runs/{id}`` lists it under ``replays``."""
        return RunOut.of(await services.runs.replay(run_id, version, by=actor(request)))

    @post("/{run_id:str}/cancel", status_code=200)
    async def cancel_run(
        self, services: ServicesDep, request: AnyRequest, run_id: FromPath[str]
    ) -> RunOut:
        """Stop a run that is queued (waiting for a worker, a retry or a delay's end) or held:
        it ends ``cancelled`` and no more of its steps run (409 for a run that is running or
        has ended). A replay brings it back."""
        return RunOut.of(await services.runs.cancel(run_id, by=actor(request)))


class QueueController(Controller):
    path = "/api/queue"
    tags = ["runs"]

    @get("/")
    async def get_queue(self, services: ServicesDep) -> QueueOut:
        """Runs waiting, and how long the oldest due one has waited for a worker."""
        state = await services.monitoring.queue()
        return QueueOut(queued=state.queued, oldest_due_seconds=state.oldest_due_age)
