"""The help desk connection: where its API lives and the token it takes.

Saved once by the user (``maillon connections add helpdesk NAME --set ...`` or the API), then
named by every step that uses it. The token is a ``SecretStr``: Maillon encrypts it at rest and
never shows it again, in the API, the UI or the logs.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from maillon.connectors.sdk import Connection, ConnectionCheck, ConnectorError
from maillon_example._api import call, client

__all__ = ["HelpdeskConnection", "check_connection"]


class HelpdeskConnection(Connection):
    """One help desk account."""

    base_url: str = Field(
        title="API URL",
        description="The root of the help desk's REST API, as its settings page shows it.",
        examples=["https://support.example.com/api/"],
    )
    api_token: SecretStr = Field(
        title="API token",
        description="A token from Settings → API tokens, allowed to create tickets.",
    )

    @field_validator("base_url")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        # Paths are appended to the base URL: without the slash, the last segment would be lost.
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("the API URL must start with http:// or https://")
        return value if value.endswith("/") else value + "/"


async def check_connection(conn: HelpdeskConnection) -> ConnectionCheck:
    """``maillon connections test``: ask the API who the token belongs to."""
    try:
        async with client(conn, timeout=10) as http:
            me = await call(http, "GET", "me")
    except ConnectorError as exc:
        return ConnectionCheck(ok=False, message=exc.message)
    return ConnectionCheck(ok=True, message=f"connected as {me.get('email', 'an unnamed user')}")
