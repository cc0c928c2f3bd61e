"""A test-only connector whose accounts connect with OAuth 2.0, to exercise the engine's consent
and refresh against a fake authorization server.

Its URLs carry a per-account ``{tenant}`` and the server's address, as real apps carry an
instance, a data centre or a tenant; the client authenticates with HTTP Basic.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

from maillon.connectors.sdk import (
    AccessTokenRejected,
    Action,
    ActionContext,
    Connection,
    Connector,
    OAuth2,
    PermanentError,
)


class AcmeConnection(Connection):
    server: str
    tenant: str
    client_id: str | None = None
    client_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    expires_at: float | None = None


class WhoAmIInput(BaseModel):
    note: str = ""


class WhoAmIOutput(BaseModel):
    token: str


class WhoAmI(Action[AcmeConnection, WhoAmIInput, WhoAmIOutput]):
    """Says which access token it was given (a real action would call the app with it)."""

    key = "who_am_i"
    title = "Who am I"

    async def run(
        self, ctx: ActionContext, conn: AcmeConnection, data: WhoAmIInput
    ) -> WhoAmIOutput:
        if conn.access_token is None:
            raise PermanentError("no access token")
        return WhoAmIOutput(token=conn.access_token.get_secret_value())


class CallApi(Action[AcmeConnection, WhoAmIInput, WhoAmIOutput]):
    """Calls the app's ``/me`` with the access token, as a real action would."""

    key = "call_api"
    title = "Call the API"

    async def run(
        self, ctx: ActionContext, conn: AcmeConnection, data: WhoAmIInput
    ) -> WhoAmIOutput:
        token = conn.access_token.get_secret_value() if conn.access_token else ""
        async with httpx.AsyncClient() as client:
            answer = await client.get(
                f"{conn.server}{conn.tenant}/me", headers={"Authorization": f"Bearer {token}"}
            )
        if answer.status_code == 401:
            raise AccessTokenRejected("Acme refused the access token")
        return WhoAmIOutput(token=token)


acme = Connector(
    key="acme",
    title="Acme",
    actions=(WhoAmI, CallApi),
    connection=AcmeConnection,
    oauth=OAuth2(
        provider="Acme",
        authorize_url="{server}{tenant}/authorize",
        token_url="{server}{tenant}/token",
        scopes=("read", "write"),
        client_auth="basic",
        settings=("server", "tenant"),
    ),
)
