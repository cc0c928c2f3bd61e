"""The Salesforce connection: an org reached as a user who granted access (OAuth), or as an
integration user through the JWT bearer flow."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, SecretStr, model_validator

from maillon.connectors.crm import OptionalUrl, Url
from maillon.connectors.sdk import Connection, OAuth2, TokenSet, default_token_fields

__all__ = ["PRODUCTION_LOGIN", "SALESFORCE_OAUTH", "SANDBOX_LOGIN", "SalesforceConnection"]

PRODUCTION_LOGIN = "https://login.salesforce.com"
SANDBOX_LOGIN = "https://test.salesforce.com"


class SalesforceConnection(Connection):
    """A Salesforce org, reached in one of two ways (through a connected app either way):

    - **OAuth**: a user grants access once (``maillon connections connect salesforce NAME``);
      Maillon keeps the refresh token and the org's instance URL, and gets a new access token
      when Salesforce ends the session.
    - **JWT bearer**: an integration user pre-authorized in the connected app, whose
      certificate's private key signs a short assertion for each new session. Nobody signs in;
      give ``client_id``, ``username`` and ``private_key``.
    """

    login_url: Url = Field(
        default=PRODUCTION_LOGIN,
        title="Login URL",
        description=f"{PRODUCTION_LOGIN} for production, {SANDBOX_LOGIN} for a sandbox, or "
        "your My Domain URL.",
        examples=[PRODUCTION_LOGIN, SANDBOX_LOGIN, "https://acme.my.salesforce.com"],
    )
    instance_url: OptionalUrl = Field(
        default=None,
        title="Instance URL",
        description="The org's address, filled when connecting. Set it to reach the org "
        "through a proxy.",
        examples=["https://acme.my.salesforce.com"],
    )
    api_version: str = Field(
        default="62.0", title="API version", description="Salesforce's REST API version."
    )
    client_id: str | None = Field(
        default=None, title="Consumer key", description="The connected app's consumer key."
    )
    client_secret: SecretStr | None = Field(
        default=None,
        title="Consumer secret",
        description="The connected app's consumer secret (OAuth only).",
    )
    access_token: SecretStr | None = Field(default=None, title="Access token")
    refresh_token: SecretStr | None = Field(default=None, title="Refresh token")
    #: Salesforce does not say when a session ends, so this stays empty (refresh on refusal).
    expires_at: float | None = Field(default=None, title="Access token expiry (epoch seconds)")
    username: str | None = Field(
        default=None,
        title="Integration user",
        description="JWT bearer flow: the username Maillon acts as, pre-authorized in the "
        "connected app.",
        examples=["integration@acme.com"],
    )
    private_key: SecretStr | None = Field(
        default=None,
        title="Private key (PEM)",
        description="JWT bearer flow: the private key of the certificate uploaded to the "
        "connected app.",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> Self:
        oauth = self.access_token is not None or self.refresh_token is not None
        if self.private_key is not None:
            if oauth:
                raise ValueError("give OAuth tokens or a JWT private key, not both")
            missing = [n for n in ("client_id", "username") if not getattr(self, n)]
            if missing:
                raise ValueError(f"the JWT bearer flow needs {' and '.join(missing)}")
        elif not oauth:
            raise ValueError(
                "connect a user with OAuth, or give client_id, username and private_key for "
                "the JWT bearer flow"
            )
        elif self.instance_url is None:
            raise ValueError("an OAuth connection needs the org's instance_url")
        return self

    @property
    def jwt(self) -> bool:
        """Whether this connection signs JWT assertions (rather than holding OAuth tokens)."""
        return self.private_key is not None


def _connection_fields(tokens: TokenSet) -> dict[str, Any]:
    # Salesforce names the org's instance in every token answer, refreshes included.
    fields = default_token_fields(tokens)
    if isinstance(tokens.raw.get("instance_url"), str):
        fields["instance_url"] = tokens.raw["instance_url"]
    return fields


SALESFORCE_OAUTH = OAuth2(
    provider="Salesforce",
    authorize_url="{login_url}/services/oauth2/authorize",
    token_url="{login_url}/services/oauth2/token",  # noqa: S106 (a URL)
    scopes=("api", "refresh_token"),
    settings=("login_url",),
    to_connection=_connection_fields,
)
