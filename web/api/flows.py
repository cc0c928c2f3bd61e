"""``/api/flows``: create, edit, enable/disable, delete flows, release held runs, replay failed
ones, read a flow's schedule, run it now and release its digest; drafts, publishing, history,
diff and restore.

``PUT /api/flows/{id}`` saves and publishes in one call, as it did before flows had drafts:
scripts that keep flows in git expect their change live. ``PUT /api/flows/{id}/draft`` then
``POST /api/flows/{id}/publish`` is the reviewed way, the editor's.
"""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from maillon.engine.flows import FlowDocument
from maillon.engine.services.flows import DRAFT
from maillon.engine.services.runs import ReplayWith
from maillon.web.api.deps import AnyRequest, ServicesDep
from maillon.web.api.schemas import (
    DiffOut,
    FlowOut,
    FlowVersionOut,
    PublishIn,
    ReleasedOut,
    ResumedOut,
    RunStartedOut,
    TimingOut,
)
from maillon.web.auth import actor

__all__ = ["FlowController"]


class FlowController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get("/")
    async def list_flows(self, services: ServicesDep) -> list[FlowOut]:
        return [FlowOut.of(v) for v in await services.flows.all()]

    @post("/")
    async def create_flow(
        self, services: ServicesDep, request: AnyRequest, data: JSONBody[FlowDocument]
    ) -> FlowOut:
        """Create a flow, published as its version 1."""
        return FlowOut.of(await services.flows.save(data, author=actor(request)))

    @get("/{flow_id:str}")
    async def get_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        return FlowOut.of(await services.flows.get(flow_id))

    @put("/{flow_id:str}")
    async def update_flow(
        self,
        services: ServicesDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        data: JSONBody[FlowDocument],
        note: FromQuery[str | None] = None,
    ) -> FlowOut:
        """Replace the flow and publish it at once (a new version when it changed; the draft,
        if any, is replaced). To review before publishing, use ``PUT .../draft``."""
        # 404 rather than creating a flow under a caller-chosen id.
        view = await services.flows.save(
            data, flow_id, must_exist=True, author=actor(request), note=note
        )
        return FlowOut.of(view)

    @get("/{flow_id:str}/draft")
    async def get_draft(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        """The flow as being edited: its draft, else its published version."""
        view = await services.flows.get(flow_id)
        return FlowOut.of(view, view.editing)

    @put("/{flow_id:str}/draft")
    async def save_draft(
        self,
        services: ServicesDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        data: JSONBody[FlowDocument],
    ) -> FlowOut:
        """Save the flow's draft; nothing that runs changes until it is published.
        ``enabled`` is not applied (use /enable or /disable)."""
        view = await services.flows.save_draft(data, flow_id, author=actor(request))
        return FlowOut.of(view, view.editing)

    @delete("/{flow_id:str}/draft", status_code=200)
    async def discard_draft(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        """Drop the flow's unpublished changes."""
        return FlowOut.of(await services.flows.discard_draft(flow_id))

    @post("/{flow_id:str}/publish", status_code=200)
    async def publish_flow(
        self,
        services: ServicesDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        data: JSONBody[PublishIn | None] = None,
    ) -> FlowOut:
        """Publish the draft as the next version: runs created from now on take it, runs
        already created keep theirs (409 when there is no draft)."""
        note = data.note if data else None
        return FlowOut.of(await services.flows.publish(flow_id, author=actor(request), note=note))

    @get("/{flow_id:str}/versions")
    async def list_versions(
        self, services: ServicesDep, flow_id: FromPath[str]
    ) -> list[FlowVersionOut]:
        """The flow's published versions, newest first."""
        view, versions = await services.flows.history(flow_id)
        return [FlowVersionOut.of(v, view.row.version) for v in versions]

    @get("/{flow_id:str}/versions/{version:int}")
    async def get_version(
        self, services: ServicesDep, flow_id: FromPath[str], version: FromPath[int]
    ) -> FlowVersionOut:
        """One published version, with its definition."""
        view, row, spec = await services.flows.version(flow_id, version)
        return FlowVersionOut.of(row, view.row.version, spec)

    @post("/{flow_id:str}/versions/{version:int}/restore", status_code=200)
    async def restore_version(
        self,
        services: ServicesDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        version: FromPath[int],
    ) -> FlowOut:
        """Make a published version the flow's draft again (publish it to make it live)."""
        view = await services.flows.restore(flow_id, version, author=actor(request))
        return FlowOut.of(view, view.editing)

    @get("/{flow_id:str}/diff")
    async def diff_versions(
        self,
        services: ServicesDep,
        flow_id: FromPath[str],
        before: FromQuery[str],
        after: FromQuery[str] = DRAFT,
    ) -> DiffOut:
        """What changed from version ``before`` to ``after`` (numbers, or ``draft``)."""
        changes = await services.flows.diff(flow_id, before, after)
        return DiffOut.of(before, after, changes)

    @post("/{flow_id:str}/enable", status_code=200)
    async def enable_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        return FlowOut.of(await services.flows.set_enabled(flow_id, True))

    @post("/{flow_id:str}/disable", status_code=200)
    async def disable_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        return FlowOut.of(await services.flows.set_enabled(flow_id, False))

    @post("/{flow_id:str}/resume", status_code=200)
    async def resume_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> ResumedOut:
        """Switch a paused (or disabled) flow on and queue the runs it held."""
        view, released = await services.flows.resume(flow_id)
        return ResumedOut(flow=FlowOut.of(view), released=released)

    @post("/{flow_id:str}/release-held", status_code=200)
    async def release_held(self, services: ServicesDep, flow_id: FromPath[str]) -> dict[str, int]:
        """Queue every run held while the flow was disabled."""
        return {"released": await services.runs.release_held(flow_id)}

    @post("/{flow_id:str}/replay-failed", status_code=200)
    async def replay_failed(
        self,
        services: ServicesDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        version: FromQuery[ReplayWith] = ReplayWith.RAN,
    ) -> dict[str, int]:
        """Replay every failed run of the flow (after an outage of the app it calls), each as
        ``POST /api/runs/{id}/replay`` would, with the version it ran (``version=ran``) or the
        published one (``version=current``)."""
        return {"replayed": await services.runs.replay_failed(flow_id, version, by=actor(request))}

    @get("/{flow_id:str}/timing")
    async def flow_timing(self, services: ServicesDep, flow_id: FromPath[str]) -> TimingOut:
        """When the flow's schedule fires next, and how many items its digest holds."""
        return TimingOut.of(await services.schedules.timing(flow_id))

    @post("/{flow_id:str}/run", status_code=202)
    async def run_now(
        self, services: ServicesDep, request: AnyRequest, flow_id: FromPath[str]
    ) -> RunStartedOut:
        """Run a scheduled flow now, as if its schedule ticked (409 for a flow that is not on
        a schedule); its ticks go on as planned."""
        return RunStartedOut.of(await services.schedules.run_now(flow_id, by=actor(request)))

    @post("/{flow_id:str}/digest/release", status_code=200)
    async def release_digest(self, services: ServicesDep, flow_id: FromPath[str]) -> ReleasedOut:
        """Release the flow's digest now: one run for the items waiting (409 when none)."""
        return ReleasedOut.of(await services.schedules.release(flow_id))

    @post("/{flow_id:str}/subscribe", status_code=200)
    async def subscribe_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        """Try again to register the flow's event URL with its app (after a refusal)."""
        return FlowOut.of(await services.flows.resubscribe(flow_id))

    @delete("/{flow_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> None:
        await services.flows.delete(flow_id)
