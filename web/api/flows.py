"""``/api/flows``: create, edit, enable/disable, delete flows, release held runs, read a
flow's schedule and release its digest."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from maillon.engine.flows import FlowDocument
from maillon.web.api.deps import ServicesDep
from maillon.web.api.schemas import FlowOut, ReleasedOut, ResumedOut, TimingOut

__all__ = ["FlowController"]


class FlowController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get("/")
    async def list_flows(self, services: ServicesDep) -> list[FlowOut]:
        return [FlowOut.of(v) for v in await services.flows.all()]

    @post("/")
    async def create_flow(self, services: ServicesDep, data: JSONBody[FlowDocument]) -> FlowOut:
        return FlowOut.of(await services.flows.save(data))

    @get("/{flow_id:str}")
    async def get_flow(self, services: ServicesDep, flow_id: FromPath[str]) -> FlowOut:
        return FlowOut.of(await services.flows.get(flow_id))

    @put("/{flow_id:str}")
    async def update_flow(
        self, services: ServicesDep, flow_id: FromPath[str], data: JSONBody[FlowDocument]
    ) -> FlowOut:
        # 404 rather than creating a flow under a caller-chosen id.
        return FlowOut.of(await services.flows.save(data, flow_id, must_exist=True))

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

    @get("/{flow_id:str}/timing")
    async def flow_timing(self, services: ServicesDep, flow_id: FromPath[str]) -> TimingOut:
        """When the flow's schedule fires next, and how many items its digest holds."""
        return TimingOut.of(await services.schedules.timing(flow_id))

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
