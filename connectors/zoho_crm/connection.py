"""The Zoho CRM connection: an OAuth grant in one of Zoho's data centres."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator

from maillon.connectors.crm import OptionalUrl
from maillon.connectors.sdk import Connection, OAuth2, TokenSet, choice_labels, default_token_fields

__all__ = ["API_DOMAINS", "ZOHO_OAUTH", "DataCentre", "ZohoConnection"]

#: Zoho's data centres, as the host of their accounts server (``accounts.<data centre>``):
#: an account lives in one, and its tokens work only there.
DataCentre = Literal[
    "zoho.com",
    "zoho.eu",
    "zoho.in",
    "zoho.com.au",
    "zoho.jp",
    "zohocloud.ca",
    "zoho.sa",
    "zoho.com.cn",
]
#: The API host of each data centre, for connections made before Zoho named it.
API_DOMAINS: dict[str, str] = {
    "zoho.com": "https://www.zohoapis.com",
    "zoho.eu": "https://www.zohoapis.eu",
    "zoho.in": "https://www.zohoapis.in",
    "zoho.com.au": "https://www.zohoapis.com.au",
    "zoho.jp": "https://www.zohoapis.jp",
    "zohocloud.ca": "https://www.zohoapis.ca",
    "zoho.sa": "https://www.zohoapis.sa",
    "zoho.com.cn": "https://www.zohoapis.com.cn",
}


class ZohoConnection(Connection):
    """A Zoho CRM organization, connected with OAuth (a client registered in Zoho's API
    console, server-based application). The access token lasts an hour; Maillon refreshes it.
    """

    data_centre: DataCentre = Field(
        default="zoho.com",
        title="Data centre",
        json_schema_extra=choice_labels(
            {
                "zoho.com": "United States (zoho.com)",
                "zoho.eu": "Europe (zoho.eu)",
                "zoho.in": "India (zoho.in)",
                "zoho.com.au": "Australia (zoho.com.au)",
                "zoho.jp": "Japan (zoho.jp)",
                "zohocloud.ca": "Canada (zohocloud.ca)",
                "zoho.sa": "Saudi Arabia (zoho.sa)",
                "zoho.com.cn": "China (zoho.com.cn)",
            }
        ),
        description="Where the Zoho account lives: the domain of its address (crm.zoho.eu → "
        "zoho.eu; Canada is zohocloud.ca).",
    )
    client_id: str | None = Field(default=None, title="OAuth client ID")
    client_secret: SecretStr | None = Field(default=None, title="OAuth client secret")
    access_token: SecretStr | None = Field(default=None, title="Access token")
    refresh_token: SecretStr | None = Field(default=None, title="Refresh token")
    expires_at: float | None = Field(default=None, title="Access token expiry (epoch seconds)")
    api_domain: OptionalUrl = Field(
        default=None,
        title="API domain",
        description="Filled when connecting (Zoho names it). Set it to reach Zoho through a "
        "proxy; otherwise leave it empty.",
        examples=["https://www.zohoapis.eu"],
    )
    api_version: str = Field(
        default="v7", title="API version", description="Zoho CRM's REST API version."
    )
    authorize_url: OptionalUrl = Field(
        default=None,
        title="Authorization URL",
        description="Where users grant access; the data centre's unless set (a gateway).",
    )
    token_url: OptionalUrl = Field(
        default=None,
        title="Token URL",
        description="Where tokens are granted; the data centre's unless set (a gateway).",
    )

    @model_validator(mode="after")
    def _connected(self) -> Self:
        if self.access_token is None and self.refresh_token is None:
            raise ValueError(
                "connect the account with OAuth (maillon connections connect zoho_crm)"
            )
        return self

    @property
    def base_url(self) -> str:
        """The root of the CRM API, version included."""
        domain = self.api_domain or API_DOMAINS[self.data_centre]
        return f"{domain}/crm/{self.api_version}"

    def auth_headers(self) -> dict[str, str]:
        """Zoho's own scheme name, not ``Bearer``."""
        token = self.access_token.get_secret_value() if self.access_token else ""
        return {"Authorization": f"Zoho-oauthtoken {token}"}


def _connection_fields(tokens: TokenSet) -> dict[str, Any]:
    fields = default_token_fields(tokens)
    if isinstance(tokens.raw.get("api_domain"), str):
        fields["api_domain"] = tokens.raw["api_domain"]
    return fields


ZOHO_OAUTH = OAuth2(
    provider="Zoho",
    authorize_url="https://accounts.{data_centre}/oauth/v2/auth",
    token_url="https://accounts.{data_centre}/oauth/v2/token",  # noqa: S106 (a URL)
    scopes=("ZohoCRM.modules.ALL", "ZohoCRM.users.READ"),
    # Zoho separates scopes with commas.
    scope_separator=",",
    # offline + consent: a refresh token on every grant, also a repeated one.
    authorize_params={"access_type": "offline", "prompt": "consent"},
    authorize_url_field="authorize_url",
    token_url_field="token_url",  # noqa: S106 (a field name)
    settings=("data_centre",),
    to_connection=_connection_fields,
)
