"""``/api/flows``: create, edit, enable/disable, delete flows, and release held runs."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from maillon.engine.flows import FlowSpec
from maillon.engine.models import FlowRow
from maillon.engine.store import Store
from maillon.web.api.deps import AnyRequest, StoreDep
from maillon.web.api.schemas import FlowOut

__all__ = ["FlowController"]


def _out(store: Store, request: AnyRequest, row: FlowRow, *, one: bool = True) -> FlowOut:
    base = str(request.app.state.runtime.settings.base_url)
    warnings = store.flow_warnings(row) if one else None
    return FlowOut.of(row, base, store.subscription(row), warnings)


class FlowController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get("/", sync_to_thread=True)
    def list_flows(self, store: StoreDep, request: AnyRequest) -> list[FlowOut]:
        return [_out(store, request, r, one=False) for r in store.list_flows()]

    @post("/", sync_to_thread=True)
    def create_flow(
        self, store: StoreDep, request: AnyRequest, data: JSONBody[FlowSpec]
    ) -> FlowOut:
        return _out(store, request, store.save_flow(data))

    @get("/{flow_id:str}", sync_to_thread=True)
    def get_flow(self, store: StoreDep, request: AnyRequest, flow_id: FromPath[str]) -> FlowOut:
        return _out(store, request, store.get_flow(flow_id))

    @put("/{flow_id:str}", sync_to_thread=True)
    def update_flow(
        self,
        store: StoreDep,
        request: AnyRequest,
        flow_id: FromPath[str],
        data: JSONBody[FlowSpec],
    ) -> FlowOut:
        store.get_flow(flow_id)  # 404 rather than creating a flow under a caller-chosen id
        return _out(store, request, store.save_flow(data, flow_id))

    @post("/{flow_id:str}/enable", sync_to_thread=True, status_code=200)
    def enable_flow(self, store: StoreDep, request: AnyRequest, flow_id: FromPath[str]) -> FlowOut:
        return _out(store, request, store.set_enabled(flow_id, True))

    @post("/{flow_id:str}/disable", sync_to_thread=True, status_code=200)
    def disable_flow(self, store: StoreDep, request: AnyRequest, flow_id: FromPath[str]) -> FlowOut:
        return _out(store, request, store.set_enabled(flow_id, False))

    @post("/{flow_id:str}/release-held", sync_to_thread=True, status_code=200)
    def release_held(
        self, store: StoreDep, request: AnyRequest, flow_id: FromPath[str]
    ) -> dict[str, int]:
        """Queue every run held while the flow was disabled."""
        store.get_flow(flow_id)
        released = store.release_held(flow_id)
        request.app.state.runtime.wakeup.notify()
        return {"released": released}

    @post("/{flow_id:str}/subscribe", sync_to_thread=True, status_code=200)
    def subscribe_flow(
        self, store: StoreDep, request: AnyRequest, flow_id: FromPath[str]
    ) -> FlowOut:
        """Try again to register the flow's event URL with its app (after a refusal)."""
        store.resubscribe(flow_id)
        return _out(store, request, store.get_flow(flow_id))

    @delete("/{flow_id:str}", sync_to_thread=True, status_code=HTTP_204_NO_CONTENT)
    def delete_flow(self, store: StoreDep, flow_id: FromPath[str]) -> None:
        store.delete_flow(flow_id)
