"""Zoho CRM: records of any module, and notes, through Zoho CRM's REST API (v7).

Zoho's official Python SDK keeps its own token store and initialisation state per process, and
cannot take a token refreshed by the engine; the REST API is called with httpx instead
(:mod:`maillon.connectors.crm`), imported on first use.
"""

from __future__ import annotations

from maillon.connectors.crm import check_with
from maillon.connectors.sdk import ConnectionCheck, Connector
from maillon.connectors.zoho_crm.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.zoho_crm.connection import ZOHO_OAUTH, ZohoConnection
from maillon.connectors.zoho_crm.french import FRENCH

__all__ = ["ZohoConnection", "check_connection", "connector"]


async def check_connection(conn: ZohoConnection) -> ConnectionCheck:
    """Ask Zoho who the token belongs to (``GET /crm/v7/users?type=CurrentUser``)."""
    from maillon.connectors.zoho_crm._api import api

    async def me() -> str:
        async with api(conn, 20.0) as http:
            response = await http.call(
                "GET", "users", params={"type": "CurrentUser"}, what="to say who this is"
            )
        users = (http.json(response) or {}).get("users") or [{}]
        user = users[0]
        return (
            f"Connected to Zoho CRM ({conn.data_centre}) as {user.get('full_name')} "
            f"<{user.get('email')}>"
        )

    return await check_with(me)


connector = Connector(
    key="zoho_crm",
    title="Zoho CRM",
    description="Create, update, upsert and search records of any Zoho CRM module; add notes.",
    actions=(CreateRecord, UpdateRecord, UpsertRecord, FindRecords, AddNote),
    connection=ZohoConnection,
    check=check_connection,
    oauth=ZOHO_OAUTH,
    translations={"fr": FRENCH},
)
