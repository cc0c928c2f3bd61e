"""``/api/connections`` (secrets are write-only) and ``/api/connectors`` (the catalog)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from maillon.engine.models import ConnectionRow
from maillon.engine.store import Store
from maillon.web.api.deps import AnyRequest, StoreDep
from maillon.web.api.schemas import ConnectionIn, ConnectionOut, ConnectionUpdate

__all__ = ["ConnectionController", "ConnectorController"]


def _out(store: Store, row: ConnectionRow) -> ConnectionOut:
    return ConnectionOut.of(row, store.secret_names(row), store.sources.prefix(row))


class ConnectionController(Controller):
    path = "/api/connections"
    tags = ["connections"]

    @get("/", sync_to_thread=True)
    def list_connections(self, store: StoreDep) -> list[ConnectionOut]:
        return [_out(store, r) for r in store.list_connections()]

    @post("/", sync_to_thread=True)
    def create_connection(self, store: StoreDep, data: JSONBody[ConnectionIn]) -> ConnectionOut:
        row = store.save_connection(data.app, data.name, data.values)
        return _out(store, row)

    @get("/{ref:str}", sync_to_thread=True)
    def get_connection(self, store: StoreDep, ref: FromPath[str]) -> ConnectionOut:
        row = store.get_connection(ref)
        return _out(store, row)

    @patch("/{ref:str}", sync_to_thread=True)
    def update_connection(
        self,
        store: StoreDep,
        request: AnyRequest,
        ref: FromPath[str],
        data: JSONBody[ConnectionUpdate],
    ) -> ConnectionOut:
        existing = store.get_connection(ref)
        row = store.save_connection(existing.app, data.name or existing.name, data.values, existing)
        request.app.state.runtime.connections.invalidate()
        return _out(store, row)

    @post("/{ref:str}/test", sync_to_thread=True, status_code=200)
    def test_connection(self, store: StoreDep, ref: FromPath[str]) -> dict[str, Any]:
        """Make one authenticated call to the app: do these credentials work?"""
        check = store.test_connection(ref)
        return {"ok": check.ok, "message": check.message}

    @delete("/{ref:str}", sync_to_thread=True, status_code=HTTP_204_NO_CONTENT)
    def delete_connection(self, store: StoreDep, request: AnyRequest, ref: FromPath[str]) -> None:
        store.delete_connection(ref)
        request.app.state.runtime.connections.invalidate()


class ConnectorController(Controller):
    path = "/api/connectors"
    tags = ["connectors"]

    @get("/", sync_to_thread=False)
    def list_connectors(self, store: StoreDep) -> list[dict[str, Any]]:
        """Installed apps, their connection fields and their actions' input/output schemas."""
        return [
            {
                "key": c.key,
                "title": c.title,
                "description": c.description,
                "connection": {
                    "kind": c.connection_kind,
                    "required": c.needs_connection,
                    "schema": c.connection.model_json_schema(),
                    "secret_fields": sorted(c.connection.secret_fields()),
                },
                "triggers": [
                    {
                        "key": f"{c.key}.{t.key}",
                        "title": t.title,
                        "description": t.description,
                        "custom_events": t.custom_events,
                        "events": [
                            {
                                "name": e.name,
                                "entity": e.entity,
                                "description": e.description,
                                "confirmed": e.confirmed,
                                "sample": e.sample,
                            }
                            for e in t().events()
                        ],
                    }
                    for t in c.triggers
                ],
                "actions": [
                    {
                        "key": f"{c.key}.{a.key}",
                        "title": a.title,
                        "description": a.description,
                        "input_schema": a.Input.model_json_schema(),
                        "output_schema": a.Output.model_json_schema(),
                    }
                    for a in c.actions
                ],
            }
            for c in store.registry.all()
        ]
