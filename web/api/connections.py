"""``/api/connections`` (secrets are write-only) and ``/api/connectors`` (the catalog)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from maillon.connectors.base import Connector
from maillon.web.api.deps import ServicesDep
from maillon.web.api.schemas import ConnectionIn, ConnectionOut, ConnectionUpdate

__all__ = ["ConnectionController", "ConnectorController"]


class ConnectionController(Controller):
    path = "/api/connections"
    tags = ["connections"]

    @get("/")
    async def list_connections(self, services: ServicesDep) -> list[ConnectionOut]:
        return [ConnectionOut.of(v) for v in await services.connections.all()]

    @post("/")
    async def create_connection(
        self, services: ServicesDep, data: JSONBody[ConnectionIn]
    ) -> ConnectionOut:
        return ConnectionOut.of(await services.connections.create(data.app, data.name, data.values))

    @get("/{ref:str}")
    async def get_connection(self, services: ServicesDep, ref: FromPath[str]) -> ConnectionOut:
        return ConnectionOut.of(await services.connections.get(ref))

    @patch("/{ref:str}")
    async def update_connection(
        self, services: ServicesDep, ref: FromPath[str], data: JSONBody[ConnectionUpdate]
    ) -> ConnectionOut:
        view = await services.connections.update(ref, data.values, name=data.name)
        return ConnectionOut.of(view)

    @post("/{ref:str}/test", status_code=200)
    async def test_connection(self, services: ServicesDep, ref: FromPath[str]) -> dict[str, Any]:
        """Make one authenticated call to the app: do these credentials work?"""
        check = await services.connections.test(ref)
        return {"ok": check.ok, "message": check.message}

    @delete("/{ref:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_connection(self, services: ServicesDep, ref: FromPath[str]) -> None:
        await services.connections.delete(ref)


def _connector(c: Connector) -> dict[str, Any]:
    return {
        "key": c.key,
        "title": c.title,
        "description": c.description,
        "connection": {
            "kind": c.connection_kind,
            "required": c.needs_connection,
            "schema": c.connection.model_json_schema(),
            "secret_fields": sorted(c.connection.secret_fields()),
            "oauth": c.oauth is not None,
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
                "advanced_inputs": list(a.advanced_inputs),
                "output_schema": a.Output.model_json_schema(),
            }
            for a in c.actions
        ],
    }


class ConnectorController(Controller):
    path = "/api/connectors"
    tags = ["connectors"]

    @get("/")
    async def list_connectors(self, services: ServicesDep) -> list[dict[str, Any]]:
        """Installed apps, their connection fields and their actions' input/output schemas."""
        return [_connector(c) for c in services.connections.catalog()]
