"""A Dropbox account: an access token (generated in the App Console, or granted by connecting
the account with OAuth), and the refresh token that keeps a short-lived one valid."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from maillon.connectors.sdk import Connection, OAuth2

__all__ = ["DROPBOX_OAUTH", "DropboxConnection"]

API_URL = "https://api.dropboxapi.com/2/"
CONTENT_URL = "https://content.dropboxapi.com/2/"


class DropboxConnection(Connection):
    """How Maillon reaches one Dropbox account.

    Either connect the account with OAuth (Maillon then keeps a refresh token and renews the
    short-lived access token before a step needs it), or paste an access token generated in
    the Dropbox App Console, optionally with a refresh token and the app's key and secret.
    """

    access_token: SecretStr | None = Field(
        default=None,
        title="Access token",
        description="Generated in the App Console (Settings → Generated access token), or "
        "filled in when the account is connected.",
    )
    refresh_token: SecretStr | None = Field(
        default=None,
        title="Refresh token",
        description="Stored when the account is connected; lets Maillon renew the access token.",
    )
    expires_at: float | None = Field(
        default=None, title="Access token expiry", description="Unix time; kept up to date."
    )
    client_id: str | None = Field(
        default=None,
        title="App key",
        description="From the Dropbox App Console; needed to renew access tokens.",
        examples=["a1b2c3d4e5f6g7h"],
    )
    client_secret: SecretStr | None = Field(default=None, title="App secret")
    api_url: str = Field(
        default=API_URL,
        title="API URL",
        description="Where Dropbox's API calls go. Change only for a proxy.",
    )
    content_url: str = Field(
        default=CONTENT_URL,
        title="Content API URL",
        description="Where Dropbox's uploads go. Change only for a proxy.",
    )
    token_url: str | None = Field(
        default=None, title="Token URL", description="Leave empty for Dropbox's."
    )
    authorize_url: str | None = Field(
        default=None, title="Authorization URL", description="Leave empty for Dropbox's."
    )

    @field_validator("api_url", "content_url")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        # Routes are appended to these URLs: a missing slash would eat the version segment.
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if self.access_token is None and self.refresh_token is None:
            raise ValueError(
                "give an access token, or connect the account (which stores a refresh token)"
            )
        if self.refresh_token is not None and not self.client_id:
            raise ValueError("a refresh token needs the app key (client_id) to be used")
        return self


#: Connecting an account: offline access, so that Dropbox grants a refresh token; the engine
#: renews the four-hour access tokens with it.
DROPBOX_OAUTH = OAuth2(
    provider="Dropbox",
    authorize_url="https://www.dropbox.com/oauth2/authorize",
    token_url="https://api.dropboxapi.com/oauth2/token",  # noqa: S106 (a URL)
    scopes=(
        "account_info.read",
        "files.metadata.read",
        "files.content.write",
        "sharing.read",
        "sharing.write",
    ),
    authorize_params={"token_access_type": "offline"},
    authorize_url_field="authorize_url",
    token_url_field="token_url",  # noqa: S106 (a field name)
)
