"""A Mailchimp account: an API key (which names its data centre), or an OAuth access token."""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from maillon.connectors.sdk import Connection, OAuth2, TokenSet

__all__ = ["MAILCHIMP_OAUTH", "METADATA_URL", "MailchimpConnection"]

METADATA_URL = "https://login.mailchimp.com/oauth2/metadata"
_DATA_CENTRE = re.compile(r"[a-z]+[0-9]+")


class MailchimpConnection(Connection):
    """How Maillon reaches one Mailchimp account.

    With an API key (Profile → Extras → API keys), the data centre is the key's suffix
    (``…-us6``). Connected with OAuth, the account's data centre is asked of Mailchimp once,
    unless it is given here.
    """

    api_key: SecretStr | None = Field(
        default=None,
        title="API key",
        description="From Profile → Extras → API keys; it ends with the data centre (-us6).",
    )
    access_token: SecretStr | None = Field(
        default=None,
        title="OAuth access token",
        description="Filled in when the account is connected with OAuth; it does not expire.",
    )
    server_prefix: str | None = Field(
        default=None,
        title="Data centre",
        description="The part before .api.mailchimp.com in the account's URLs (us6). Taken "
        "from the API key, or asked of Mailchimp, when empty.",
        examples=["us6"],
    )
    client_id: str | None = Field(default=None, title="OAuth client ID")
    client_secret: SecretStr | None = Field(default=None, title="OAuth client secret")
    api_url: str | None = Field(
        default=None,
        title="API URL",
        description="The API's root instead of https://<data centre>.api.mailchimp.com/3.0/ "
        "(a proxy).",
    )
    metadata_url: str = Field(
        default=METADATA_URL,
        title="OAuth metadata URL",
        description="Where the data centre of an OAuth account is asked. Change only for a proxy.",
    )
    token_url: str | None = Field(default=None, title="Token URL")
    authorize_url: str | None = Field(default=None, title="Authorization URL")

    @field_validator("server_prefix")
    @classmethod
    def _data_centre(cls, value: str | None) -> str | None:
        if value is not None and not _DATA_CENTRE.fullmatch(value.strip()):
            raise ValueError(f"not a Mailchimp data centre (like us6): {value!r}")
        return value.strip() if value else None

    @field_validator("api_url")
    @classmethod
    def _slash_terminated(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_url must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if (self.api_key is None) == (self.access_token is None):
            raise ValueError("give either an API key or an OAuth access token")
        if self.api_key is not None and self.server_prefix is None and self.api_url is None:
            suffix = self.api_key.get_secret_value().rpartition("-")[2]
            if not _DATA_CENTRE.fullmatch(suffix):
                raise ValueError(
                    "the API key does not end with its data centre (-us6): give the data centre"
                )
        return self

    @property
    def data_centre(self) -> str | None:
        """The data centre, when known without asking Mailchimp."""
        if self.server_prefix:
            return self.server_prefix
        if self.api_key is not None:
            return self.api_key.get_secret_value().rpartition("-")[2]
        return None


def _connection_fields(tokens: TokenSet) -> dict[str, Any]:
    # Mailchimp's tokens do not expire and come without a refresh token ("expires_in": 0).
    return {"access_token": tokens.access_token}


MAILCHIMP_OAUTH = OAuth2(
    provider="Mailchimp",
    authorize_url="https://login.mailchimp.com/oauth2/authorize",
    token_url="https://login.mailchimp.com/oauth2/token",  # noqa: S106 (a URL)
    authorize_url_field="authorize_url",
    token_url_field="token_url",  # noqa: S106 (a field name)
    to_connection=_connection_fields,
    engine_refreshes=False,
    needs_refresh_token=False,
)
