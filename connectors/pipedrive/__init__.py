"""Pipedrive: persons, organizations, deals and notes, through Pipedrive's REST API.

Pipedrive's official Python client is generated and lags the API (v2 endpoints), so the
connector calls the REST API with httpx (:mod:`maillon.connectors.crm`), imported on first use.
"""

from __future__ import annotations

from maillon.connectors.crm import check_with
from maillon.connectors.pipedrive.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.pipedrive.connection import PIPEDRIVE_OAUTH, PipedriveConnection
from maillon.connectors.pipedrive.french import FRENCH
from maillon.connectors.sdk import ConnectionCheck, Connector

__all__ = ["PipedriveConnection", "check_connection", "connector"]


async def check_connection(conn: PipedriveConnection) -> ConnectionCheck:
    """Ask Pipedrive who the credentials belong to (``GET /v1/users/me``)."""
    from maillon.connectors.pipedrive._api import api, data_of

    async def me() -> str:
        async with api(conn, 20.0) as http:
            user = data_of(await http.call("GET", "v1/users/me", what="to say who this is"))
        user = user if isinstance(user, dict) else {}
        return (
            f"Connected to Pipedrive as {user.get('name')} <{user.get('email')}>, company "
            f"{user.get('company_name')} ({user.get('company_domain')}.pipedrive.com)"
        )

    return await check_with(me)


connector = Connector(
    key="pipedrive",
    title="Pipedrive",
    description="Sales CRM: create, update and find persons, organizations and deals; add notes.",
    actions=(CreateRecord, UpdateRecord, UpsertRecord, FindRecords, AddNote),
    connection=PipedriveConnection,
    check=check_connection,
    oauth=PIPEDRIVE_OAUTH,
    translations={"fr": FRENCH},
)
