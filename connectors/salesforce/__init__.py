"""Salesforce: sObject records, SOQL queries and activities, through Salesforce's REST API.

simple-salesforce, the best-kept Python client, builds every URL as ``https://<instance>`` and
its JWT login as ``https://<domain>.salesforce.com``, so it cannot reach a proxy or a local
server over plain HTTP, and it brings zeep and lxml for APIs these actions do not use. The REST
API is called with httpx instead (:mod:`maillon.connectors.crm`), and the JWT assertion is
signed with PyJWT; both are imported on first use.
"""

from __future__ import annotations

from maillon.connectors.crm import RestApi, check_with
from maillon.connectors.salesforce.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.salesforce.connection import SALESFORCE_OAUTH, SalesforceConnection
from maillon.connectors.salesforce.french import FRENCH
from maillon.connectors.sdk import ConnectionCheck, Connector

__all__ = ["SalesforceConnection", "check_connection", "connector"]


async def check_connection(conn: SalesforceConnection) -> ConnectionCheck:
    """Ask Salesforce who the session belongs to (``GET /services/oauth2/userinfo``)."""
    from maillon.connectors.salesforce._api import salesforce

    async def me() -> str:
        async with salesforce(conn, 20.0) as sf:
            response = await sf.call("GET", "services/oauth2/userinfo", what="to say who this is")
            user = RestApi.json(response) or {}
        return (
            f"Connected to Salesforce at {sf.base_url} as {user.get('preferred_username')} "
            f"(organization {user.get('organization_id')})"
        )

    return await check_with(me)


connector = Connector(
    key="salesforce",
    title="Salesforce",
    description="Create, update, upsert and query sObject records (contacts, leads, "
    "opportunities, custom objects); log activities.",
    actions=(CreateRecord, UpdateRecord, UpsertRecord, FindRecords, AddNote),
    connection=SalesforceConnection,
    check=check_connection,
    oauth=SALESFORCE_OAUTH,
    translations={"fr": FRENCH},
)
