"""HubSpot: contacts, companies, deals, custom objects and notes, through HubSpot's official
Python client (hubspot-api-client), which is maintained with HubSpot's API and takes any API
host. It is imported on first use.
"""

from __future__ import annotations

from maillon.connectors.crm import RestApi, check_with
from maillon.connectors.hubspot.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.hubspot.connection import HUBSPOT_OAUTH, HubSpotConnection
from maillon.connectors.hubspot.french import FRENCH
from maillon.connectors.sdk import ConnectionCheck, Connector

__all__ = ["HubSpotConnection", "check_connection", "connector"]


async def check_connection(conn: HubSpotConnection) -> ConnectionCheck:
    """Ask HubSpot which account the token belongs to (``GET /account-info/v3/details``).

    The official client has no call for it, so this one goes through the project's HTTP
    client.
    """

    async def account() -> str:
        async with RestApi(
            "HubSpot", conn.api_url, headers={}, timeout=20.0, token=conn.token
        ) as api:
            details = RestApi.json(
                await api.call("GET", "account-info/v3/details", what="to say which account")
            )
        details = details if isinstance(details, dict) else {}
        return (
            f"Connected to HubSpot account {details.get('portalId')} "
            f"({details.get('uiDomain')}, data in {details.get('dataHostingLocation')})"
        )

    return await check_with(account)


connector = Connector(
    key="hubspot",
    title="HubSpot",
    description="Create, update, upsert and search contacts, companies, deals and custom "
    "objects, linked to each other; add notes.",
    actions=(CreateRecord, UpdateRecord, UpsertRecord, FindRecords, AddNote),
    connection=HubSpotConnection,
    check=check_connection,
    oauth=HUBSPOT_OAUTH,
    translations={"fr": FRENCH},
)
