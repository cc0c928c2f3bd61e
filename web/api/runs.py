"""``/api/events`` and ``/api/runs``: history, details with every step, and replay."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from maillon.engine.models import RunStatus
from maillon.web.api.deps import AnyRequest, StoreDep
from maillon.web.api.schemas import EventOut, RunOut

__all__ = ["EventController", "RunController"]

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
StatusFilter = Annotated[str | None, QueryParameter(pattern="^(" + "|".join(RunStatus.ALL) + ")$")]


class EventController(Controller):
    path = "/api/events"
    tags = ["events"]

    @get("/", sync_to_thread=True)
    def list_events(
        self,
        store: StoreDep,
        flow_id: FromQuery[str | None] = None,
        limit: Limit = 50,
        before: FromQuery[str | None] = None,
    ) -> list[EventOut]:
        """Newest first; page with ``before=<last id>``."""
        return [EventOut.of(e) for e in store.list_events(flow_id, limit, before)]

    @get("/{event_id:str}", sync_to_thread=True)
    def get_event(self, store: StoreDep, event_id: FromPath[str]) -> EventOut:
        event, runs = store.get_event(event_id)
        return EventOut.of(event, runs)


class RunController(Controller):
    path = "/api/runs"
    tags = ["runs"]

    @get("/", sync_to_thread=True)
    def list_runs(
        self,
        store: StoreDep,
        flow_id: FromQuery[str | None] = None,
        status: StatusFilter = None,
        limit: Limit = 50,
        before: FromQuery[str | None] = None,
    ) -> list[RunOut]:
        """Newest first; filter by flow and status; page with ``before=<last id>``."""
        return [RunOut.of(r) for r in store.list_runs(flow_id, status, limit, before)]

    @get("/{run_id:str}", sync_to_thread=True)
    def get_run(self, store: StoreDep, run_id: FromPath[str]) -> RunOut:
        run, steps = store.get_run(run_id)
        return RunOut.of(run, steps)

    @post("/{run_id:str}/replay", sync_to_thread=True, status_code=200)
    def replay_run(self, store: StoreDep, request: AnyRequest, run_id: FromPath[str]) -> RunOut:
        """Run a failed (or held) run again from its first step that did not succeed."""
        run = store.replay_run(run_id)
        request.app.state.runtime.wakeup.notify()
        return RunOut.of(run)
