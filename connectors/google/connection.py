"""The one connection kind shared by Gmail, Google Sheets and Google Calendar."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, SecretStr, model_validator

from maillon.connectors.mailmessage import parse_address
from maillon.connectors.sdk import Connection

__all__ = ["DEFAULT_AUTHORIZE_URL", "DEFAULT_TOKEN_URI", "AuthMode", "GoogleConnection"]

DEFAULT_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)


class AuthMode(StrEnum):
    """How a Google connection proves who it is."""

    OAUTH = "oauth"
    SERVICE_ACCOUNT = "service_account"


class GoogleConnection(Connection):
    """A Google account, reached either as an OAuth user or as a service account.

    Exactly one mode must be configured:

    - **OAuth user**: ``client_id``, ``client_secret`` and ``refresh_token`` (obtained once by the
      consent flow, see :mod:`maillon.connectors.google.oauth`); an ``access_token`` may be given
      too and is used until Google rejects it.
    - **Service account**: ``service_account_json`` (the key file's content), and ``subject``, the
      Workspace user to act as through domain-wide delegation (needed for Gmail and for a user's
      own calendar; a service account acting as itself can only use what was shared with it).
    """

    #: All Google connectors share this kind, so one connection serves all three; the title
    #: names the kind rather than one of them.
    kind: ClassVar[str] = "google"
    model_config = ConfigDict(title="Google")

    client_id: str | None = Field(
        default=None,
        title="OAuth client ID",
        description="From Google Cloud console → APIs & Services → Credentials.",
        examples=["1234567890-abc.apps.googleusercontent.com"],
    )
    client_secret: SecretStr | None = Field(default=None, title="OAuth client secret")
    refresh_token: SecretStr | None = Field(
        default=None,
        title="Refresh token",
        description="Stored when the account was connected; lets Maillon get access tokens.",
    )
    access_token: SecretStr | None = Field(
        default=None,
        title="Access token",
        description="Optional; refreshed automatically once it expires.",
    )
    authorize_url: str = Field(
        default=DEFAULT_AUTHORIZE_URL,
        title="Authorization URL",
        description="Where users are sent to grant access. Change only for a private gateway.",
    )
    account_email: str | None = Field(
        default=None,
        title="Account email",
        description="The connected account's address, filled in when connecting; Gmail sends "
        "from it unless an action names another sender.",
        examples=["ada@example.com"],
    )
    service_account_json: SecretStr | None = Field(
        default=None,
        title="Service account key (JSON)",
        description="The content of the JSON key file of a Google Cloud service account.",
    )
    subject: str | None = Field(
        default=None,
        title="Act as user",
        description="Email of the Workspace user the service account impersonates "
        "(domain-wide delegation).",
        examples=["notifications@example.com"],
    )
    token_uri: str | None = Field(
        default=None,
        title="Token URL",
        description="OAuth token endpoint. Leave empty for Google's.",
    )
    api_endpoint: str | None = Field(
        default=None,
        title="API endpoint",
        description="Root URL of the Google APIs (a private endpoint or proxy). Leave empty for "
        "Google's.",
        examples=["https://google-apis.proxy.internal/"],
    )

    @model_validator(mode="after")
    def _exactly_one_mode(self) -> Self:
        # An "after" validator: a failure shows the model with its secrets masked, never the key.
        oauth_fields = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }
        oauth = any(v is not None for v in (*oauth_fields.values(), self.access_token))
        service = self.service_account_json is not None
        if oauth and service:
            raise ValueError(
                "configure either an OAuth user (client_id, client_secret, refresh_token) or a "
                "service account (service_account_json), not both"
            )
        if not (oauth or service):
            raise ValueError(
                "configure an OAuth user (client_id, client_secret, refresh_token) or a service "
                "account (service_account_json)"
            )
        for name in ("account_email", "subject"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_address(value)
                except ValueError:
                    raise ValueError(f"{name} is not an email address") from None
        if oauth:
            missing = [name for name, value in oauth_fields.items() if not value]
            if missing:
                raise ValueError(f"OAuth connection is missing {', '.join(missing)}")
            if self.subject is not None:
                raise ValueError("subject applies only to service accounts")
        else:
            self.service_account_info()
        return self

    @property
    def mode(self) -> AuthMode:
        """Which of the two modes this connection uses."""
        return AuthMode.SERVICE_ACCOUNT if self.service_account_json else AuthMode.OAUTH

    def service_account_info(self) -> dict[str, Any]:
        """The parsed key file; ``ValueError`` (naming no secret) if it is not a usable key."""
        assert self.service_account_json is not None
        try:
            info = json.loads(self.service_account_json.get_secret_value())
        except ValueError:
            raise ValueError("service_account_json is not valid JSON") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ValueError('service_account_json is not a service account key ("type")')
        missing = [k for k in ("client_email", "private_key") if not info.get(k)]
        if missing:
            raise ValueError(f"service_account_json lacks {', '.join(missing)}")
        return info
