"""OAuth 2.0 as a connector declares it: where to send the user, where to trade the code, and
how the tokens become connection fields. The engine runs the consent and the refreshes.

A connector whose accounts connect with OAuth sets ``Connector.oauth`` to an :class:`OAuth2`.
The engine then offers "Connect" for it (``/oauth/<app>/callback`` is the redirect URI to
register with the app), trades the code for tokens, stores them encrypted in the connection,
and, unless the connector's own client library refreshes access tokens itself, refreshes them
before a step needs one.

Apps differ in the details, so the declaration carries them as data:

- per-account hosts (a Salesforce instance, a Zoho data centre, a Microsoft tenant): the URLs
  may hold ``{field}`` placeholders, filled from the connection's settings given before consent
  (``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize``);
- a connection field may override a URL for one account (a sandbox login domain, a gateway);
- PKCE, extra authorization parameters (``access_type=offline``), the scope separator, client
  authentication in the body or with HTTP Basic;
- what the token answer holds besides the tokens (Salesforce's ``instance_url``, Zoho's
  ``api_domain``, Google's ID token): :attr:`OAuth2.to_connection` maps it to fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["OAuth2", "TokenSet", "default_token_fields"]


@dataclass(frozen=True)
class TokenSet:
    """What an app's token endpoint granted."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    #: Epoch seconds when the access token stops working, if the app said.
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    #: The whole answer, for app-specific fields (``instance_url``, ``id_token``, ...).
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def default_token_fields(tokens: TokenSet) -> dict[str, Any]:
    """The usual mapping: ``access_token``, ``refresh_token`` and ``expires_at`` fields."""
    values: dict[str, Any] = {"access_token": tokens.access_token}
    if tokens.refresh_token:
        values["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        values["expires_at"] = tokens.expires_at
    return values


@dataclass(frozen=True)
class OAuth2:
    """A connector's OAuth 2.0 authorization-code settings."""

    #: The app's name in messages ("Google refused to grant access ...").
    provider: str
    #: Where the user grants access; may hold ``{field}`` placeholders (see the module doc).
    authorize_url: str
    #: Where codes and refresh tokens are traded for access tokens; placeholders allowed.
    token_url: str
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    #: Proof Key for Code Exchange (RFC 7636, S256). Harmless where the app ignores it.
    pkce: bool = True
    #: Added to the authorization URL, e.g. ``{"access_type": "offline", "prompt": "consent"}``.
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    #: How the client proves itself to the token endpoint: form fields, or HTTP Basic.
    client_auth: Literal["body", "basic"] = "body"
    #: Connection fields holding the OAuth client; their values may also come from settings.
    client_id_field: str = "client_id"
    client_secret_field: str = "client_secret"  # noqa: S105 (a field name)
    #: Connection fields that, when set on an account, replace :attr:`authorize_url` /
    #: :attr:`token_url` (a private gateway, a sandbox).
    authorize_url_field: str | None = None
    token_url_field: str | None = None
    #: Connection fields asked before consent (instance, data centre, tenant); they fill the
    #: URL placeholders and are stored with the connection.
    settings: tuple[str, ...] = ()
    #: The connection fields the granted tokens become (the client and the settings are kept
    #: as given). Default: :func:`default_token_fields`.
    to_connection: Callable[[TokenSet], dict[str, Any]] = default_token_fields
    #: False when the connector's client library refreshes access tokens itself (Google's).
    engine_refreshes: bool = True
    #: Whether a connection must get a refresh token from the consent (offline access).
    needs_refresh_token: bool = True

    def url(self, template: str, values: Mapping[str, Any]) -> str:
        """``template`` with its ``{field}`` placeholders filled from ``values``.

        Raises ``ValueError`` naming a placeholder that has no value.
        """
        try:
            return template.format_map({k: v for k, v in values.items() if v is not None})
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]} is needed to connect this account") from None
