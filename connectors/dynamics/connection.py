"""The Dynamics 365 connection: an app registration that signs in as itself (client
credentials) to one environment."""

from __future__ import annotations

from pydantic import Field, SecretStr

from maillon.connectors.crm import OptionalUrl, Url
from maillon.connectors.sdk import Connection

__all__ = ["DEFAULT_AUTHORITY", "DynamicsConnection"]

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


class DynamicsConnection(Connection):
    """A Dynamics 365 (Dataverse) environment, reached by a Microsoft Entra app registration
    with a client secret. The app must be an *application user* of the environment (Power
    Platform admin center → the environment → Settings → Users → Application users) with a
    security role that allows what the flows do.
    """

    environment_url: Url = Field(
        title="Environment URL",
        description="The environment's address, as Power Platform shows it.",
        examples=["https://acme.crm4.dynamics.com"],
    )
    tenant: str = Field(
        min_length=1,
        title="Tenant",
        description="The Microsoft Entra directory (tenant) ID, or its domain.",
        examples=["acme.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47"],
    )
    client_id: str = Field(
        min_length=1,
        title="Application (client) ID",
        description="From the app registration's overview in Microsoft Entra.",
    )
    client_secret: SecretStr = Field(
        title="Client secret", description="A secret of the app registration (its value)."
    )
    authority_host: Url = Field(
        default=DEFAULT_AUTHORITY,
        title="Sign-in host",
        description="Microsoft's sign-in service; another one for a national cloud "
        "(https://login.microsoftonline.us).",
    )
    api_url: OptionalUrl = Field(
        default=None,
        title="Web API URL",
        description="Where the Web API is called, the environment's unless set (a proxy).",
    )
    api_version: str = Field(default="9.2", title="Web API version")

    @property
    def base_url(self) -> str:
        """The Web API root, version included."""
        return self.api_url or f"{self.environment_url}/api/data/v{self.api_version}"

    @property
    def scope(self) -> str:
        """What the token is asked for: the environment, with the app's own permissions."""
        return f"{self.environment_url}/.default"
