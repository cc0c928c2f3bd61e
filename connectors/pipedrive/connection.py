"""The Pipedrive connection: a personal API token, or an OAuth app's tokens, and the company."""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from maillon.connectors.crm import OptionalUrl
from maillon.connectors.sdk import Connection, OAuth2, TokenSet, default_token_fields

__all__ = ["PIPEDRIVE_OAUTH", "PipedriveConnection"]

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class PipedriveConnection(Connection):
    """One Pipedrive company, reached with an API token or through OAuth.

    An **API token** acts as the user it belongs to, in one company: give it with the company
    domain. **OAuth** (a Pipedrive Marketplace app) fills the tokens and the company's API
    domain when the account is connected; Maillon refreshes the access token as it expires.
    """

    api_token: SecretStr | None = Field(
        default=None,
        title="API token",
        description="Your personal token: Pipedrive → Personal preferences → API. Leave empty "
        "to connect with OAuth instead.",
    )
    company_domain: str | None = Field(
        default=None,
        title="Company domain",
        description="The part before .pipedrive.com in your Pipedrive address.",
        examples=["acme"],
    )
    api_url: OptionalUrl = Field(
        default=None,
        title="API URL",
        description="Filled when connecting with OAuth (the company's API domain). Set it to "
        "reach Pipedrive through a proxy; otherwise leave it empty.",
        examples=["https://acme.pipedrive.com"],
    )
    client_id: str | None = Field(default=None, title="OAuth client ID")
    client_secret: SecretStr | None = Field(default=None, title="OAuth client secret")
    access_token: SecretStr | None = Field(default=None, title="Access token")
    refresh_token: SecretStr | None = Field(default=None, title="Refresh token")
    expires_at: float | None = Field(default=None, title="Access token expiry (epoch seconds)")
    authorize_url: OptionalUrl = Field(
        default=None,
        title="Authorization URL",
        description="Where users grant access; Pipedrive's unless set (a gateway).",
    )
    token_url: OptionalUrl = Field(
        default=None,
        title="Token URL",
        description="Where tokens are granted; Pipedrive's unless set (a gateway).",
    )

    @field_validator("company_domain")
    @classmethod
    def _bare_domain(cls, value: str | None) -> str | None:
        # People paste their whole address; keep the company's part of it.
        if not value:
            return None
        value = value.strip().removeprefix("https://").removesuffix("/")
        value = value.removesuffix(".pipedrive.com")
        # It becomes a host name: letters, digits and hyphens only.
        if not _DOMAIN.match(value):
            raise ValueError(
                "the company domain is the part before .pipedrive.com (letters, digits and -)"
            )
        return value

    @model_validator(mode="after")
    def _auth_and_place(self) -> Self:
        oauth = self.access_token is not None or self.refresh_token is not None
        if self.api_token is not None and oauth:
            raise ValueError("give an API token or OAuth tokens, not both")
        if self.api_token is None and not oauth:
            raise ValueError("give an API token, or connect the account with OAuth")
        if self.api_url is None and self.company_domain is None:
            raise ValueError("give the company domain (acme for acme.pipedrive.com)")
        return self

    @property
    def base_url(self) -> str:
        """The company's API root."""
        return self.api_url or f"https://{self.company_domain}.pipedrive.com"

    def auth_headers(self) -> dict[str, str]:
        """The header that authenticates a call."""
        if self.api_token is not None:
            # The header keeps the token out of URLs, and so out of proxies' logs.
            return {"x-api-token": self.api_token.get_secret_value()}
        token = self.access_token.get_secret_value() if self.access_token else ""
        return {"Authorization": f"Bearer {token}"}


def _connection_fields(tokens: TokenSet) -> dict[str, Any]:
    fields = default_token_fields(tokens)
    # Pipedrive names the company's API host in every token answer.
    if isinstance(tokens.raw.get("api_domain"), str):
        fields["api_url"] = tokens.raw["api_domain"]
    return fields


#: Scopes are chosen in the app's settings in Pipedrive's Developer Hub, not asked for here.
PIPEDRIVE_OAUTH = OAuth2(
    provider="Pipedrive",
    authorize_url="https://oauth.pipedrive.com/oauth/authorize",
    token_url="https://oauth.pipedrive.com/oauth/token",  # noqa: S106 (a URL)
    client_auth="basic",
    authorize_url_field="authorize_url",
    token_url_field="token_url",  # noqa: S106 (a field name)
    to_connection=_connection_fields,
)
