"""The HubSpot connection: a private app's token, or an OAuth app's tokens."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from maillon.connectors.crm import OptionalUrl, Url
from maillon.connectors.sdk import Connection, OAuth2

__all__ = ["DEFAULT_API_URL", "HUBSPOT_OAUTH", "HubSpotConnection"]

DEFAULT_API_URL = "https://api.hubapi.com"


class HubSpotConnection(Connection):
    """One HubSpot account, reached with a private app's token or through OAuth.

    A **private app** (Settings → Integrations → Private apps) gives a token that does not
    expire; give it with the CRM scopes the flows need. **OAuth** (a public app) fills the
    tokens when the account is connected; the access token lasts 30 minutes, and Maillon
    refreshes it.
    """

    private_app_token: SecretStr | None = Field(
        default=None,
        title="Private app token",
        description="The access token of a private app (pat-...), with the crm.objects "
        "scopes the flows need. Leave empty to connect with OAuth instead.",
    )
    client_id: str | None = Field(default=None, title="OAuth client ID")
    client_secret: SecretStr | None = Field(default=None, title="OAuth client secret")
    access_token: SecretStr | None = Field(default=None, title="Access token")
    refresh_token: SecretStr | None = Field(default=None, title="Refresh token")
    expires_at: float | None = Field(default=None, title="Access token expiry (epoch seconds)")
    api_url: Url = Field(
        default=DEFAULT_API_URL,
        title="API URL",
        description="HubSpot's API root; change it only for a proxy.",
    )
    authorize_url: OptionalUrl = Field(
        default=None,
        title="Authorization URL",
        description="Where users grant access; HubSpot's unless set (a gateway).",
    )
    token_url: OptionalUrl = Field(
        default=None,
        title="Token URL",
        description="Where tokens are granted; HubSpot's unless set (a gateway).",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> Self:
        oauth = self.access_token is not None or self.refresh_token is not None
        if self.private_app_token is not None and oauth:
            raise ValueError("give a private app token or OAuth tokens, not both")
        if self.private_app_token is None and not oauth:
            raise ValueError("give a private app token, or connect the account with OAuth")
        return self

    @property
    def token(self) -> str:
        """The bearer token calls carry."""
        secret = self.private_app_token or self.access_token
        return secret.get_secret_value() if secret else ""


HUBSPOT_OAUTH = OAuth2(
    provider="HubSpot",
    authorize_url="https://app.hubspot.com/oauth/authorize",
    token_url=f"{DEFAULT_API_URL}/oauth/v1/token",
    scopes=(
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
    ),
    authorize_url_field="authorize_url",
    token_url_field="token_url",  # noqa: S106 (a field name)
)
