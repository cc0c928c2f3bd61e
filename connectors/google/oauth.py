"""How Google accounts connect with OAuth 2.0: the declaration the engine's consent runs on.

``access_type=offline`` with ``prompt=consent`` makes Google return a refresh token every time,
also when the user had granted access before: that refresh token is what the connection stores.
Access tokens are then refreshed by google-auth as actions run (see :mod:`.client`), so the
engine does not refresh them itself. The ``openid email`` scopes let the connection know which
account it is (its address, read from the ID token).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from maillon.connectors.google.client import CALENDAR, DRIVE, GMAIL, SHEETS
from maillon.connectors.google.connection import DEFAULT_AUTHORIZE_URL, DEFAULT_TOKEN_URI
from maillon.connectors.sdk import OAuth2, TokenSet

__all__ = ["CONNECTOR_SCOPES", "GOOGLE_OAUTH", "IDENTITY_SCOPES", "scopes_for"]

#: Scopes each Google connector's actions need, by connector key.
CONNECTOR_SCOPES: dict[str, tuple[str, ...]] = {
    "gmail": GMAIL.scopes,
    "google_sheets": SHEETS.scopes,
    "google_calendar": CALENDAR.scopes,
    "google_drive": DRIVE.scopes,
}

#: Lets us learn which account was connected (its email, from the ID token) to label it.
IDENTITY_SCOPES = ("openid", "email")


def scopes_for(connector_keys: Iterable[str] | None = None, *, identity: bool = True) -> list[str]:
    """The scopes to request for the given connectors (all Google connectors by default)."""
    keys = list(CONNECTOR_SCOPES) if connector_keys is None else list(connector_keys)
    scopes: list[str] = list(IDENTITY_SCOPES) if identity else []
    for key in keys:
        if key not in CONNECTOR_SCOPES:
            raise ValueError(f"not a Google connector: {key!r}")
        scopes.extend(CONNECTOR_SCOPES[key])
    return list(dict.fromkeys(scopes))


def email_from_id_token(id_token: Any) -> str | None:
    """The ``email`` claim of an ID token, if it has one."""
    # The ID token came straight from the token endpoint over TLS, so its claims may be read
    # without checking the signature (OpenID Connect Core, section 3.1.3.7).
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) else None


def _connection_fields(tokens: TokenSet) -> dict[str, Any]:
    # The short-lived access token is not stored: the first action refreshes one, and keeps it
    # in memory afterwards.
    fields: dict[str, Any] = {"refresh_token": tokens.refresh_token}
    email = email_from_id_token(tokens.raw.get("id_token"))
    if email:
        fields["account_email"] = email
    return fields


#: Shared by Gmail, Sheets, Calendar and Drive: one consent grants what all of them need.
GOOGLE_OAUTH = OAuth2(
    provider="Google",
    authorize_url=DEFAULT_AUTHORIZE_URL,
    token_url=DEFAULT_TOKEN_URI,
    scopes=tuple(scopes_for()),
    authorize_params={
        # offline + consent: always receive a refresh token, even on a repeated grant.
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    },
    authorize_url_field="authorize_url",
    token_url_field="token_uri",  # noqa: S106 (a field name)
    to_connection=_connection_fields,
    engine_refreshes=False,
)
