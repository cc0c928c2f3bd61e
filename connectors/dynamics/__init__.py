"""Microsoft Dynamics 365 (Dataverse): table rows and notes through the Web API (OData v4).

Tokens come from MSAL, Microsoft's own library, for an app registration with a client secret
(client credentials); MSAL takes any sign-in host, so national clouds and test servers work
too. The Web API itself is plain OData over HTTP: Microsoft keeps no Python client for it, and
it is called with httpx (:mod:`maillon.connectors.crm`). Both are imported on first use.
"""

from __future__ import annotations

from maillon.connectors.crm import RestApi, check_with
from maillon.connectors.dynamics.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.dynamics.connection import DynamicsConnection
from maillon.connectors.dynamics.french import FRENCH
from maillon.connectors.sdk import ConnectionCheck, Connector

__all__ = ["DynamicsConnection", "check_connection", "connector"]


async def check_connection(conn: DynamicsConnection) -> ConnectionCheck:
    """Ask the environment who the app is (``GET /WhoAmI``)."""
    from maillon.connectors.dynamics._api import dynamics

    async def me() -> str:
        async with dynamics(conn, 20.0) as api:
            who = RestApi.json(await api.call("GET", "WhoAmI", what="to say who this is")) or {}
        return (
            f"Connected to Dynamics 365 at {conn.environment_url} as application user "
            f"{who.get('UserId')} (organization {who.get('OrganizationId')})"
        )

    return await check_with(me)


connector = Connector(
    key="dynamics",
    title="Microsoft Dynamics 365",
    description="Create, update, upsert by alternate key and query Dataverse rows (contacts, "
    "accounts, opportunities); add notes.",
    actions=(CreateRecord, UpdateRecord, UpsertRecord, FindRecords, AddNote),
    connection=DynamicsConnection,
    check=check_connection,
    translations={"fr": FRENCH},
)
