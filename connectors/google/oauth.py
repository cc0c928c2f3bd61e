"""The OAuth 2.0 consent flow for connecting a Google account (authorization code grant).

No web routes live here; the web layer wires two of its own around these functions:

1. ``GET /oauth/google/start``: make a state with :func:`new_state` (and a PKCE verifier with
   :func:`new_code_verifier`), keep both in the user's session, redirect to
   :func:`authorization_url`.
2. ``GET /oauth/google/callback?code=..&state=..``: check the state against the session, then
   :func:`exchange_code` (or :func:`exchange_code_async`) and store
   :func:`connection_from_tokens`'s result as the connection.

``access_type=offline`` with ``prompt=consent`` makes Google return a refresh token every time,
also when the user had granted access before: that refresh token is what the connection stores.
Access tokens are then refreshed by google-auth as actions run (see :mod:`.client`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from maillon.connectors.google.client import CALENDAR, GMAIL, SHEETS
from maillon.connectors.google.connection import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_TOKEN_URI,
    GoogleConnection,
)
from maillon.connectors.sdk import PermanentError, TransientError

__all__ = [
    "CALLBACK_PATH",
    "CONNECTOR_SCOPES",
    "IDENTITY_SCOPES",
    "OAuthTokens",
    "authorization_url",
    "connection_from_tokens",
    "exchange_code",
    "exchange_code_async",
    "new_code_verifier",
    "new_state",
    "redirect_uri",
    "scopes_for",
]

#: Path of the callback route, appended to Maillon's public URL to make the redirect URI.
CALLBACK_PATH = "/oauth/google/callback"

#: Scopes each Google connector's actions need, by connector key.
CONNECTOR_SCOPES: dict[str, tuple[str, ...]] = {
    "gmail": GMAIL.scopes,
    "google_sheets": SHEETS.scopes,
    "google_calendar": CALENDAR.scopes,
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


def redirect_uri(public_url: str) -> str:
    """The redirect URI to register with Google for a Maillon served at ``public_url``."""
    return public_url.rstrip("/") + CALLBACK_PATH


def new_state() -> str:
    """An unguessable ``state`` value; keep it in the user's session to check on callback."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636): 43 to 128 unreserved characters."""
    return secrets.token_urlsafe(64)


def _code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    authorize_url: str = DEFAULT_AUTHORIZE_URL,
    code_verifier: str | None = None,
    login_hint: str | None = None,
) -> str:
    """The URL to send the user to, to grant Maillon access to their Google account."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        # offline + consent: always receive a refresh token, even on a repeated grant.
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    if code_verifier is not None:
        params["code_challenge"] = _code_challenge(code_verifier)
        params["code_challenge_method"] = "S256"
    if login_hint:
        params["login_hint"] = login_hint
    separator = "&" if "?" in authorize_url else "?"
    return f"{authorize_url}{separator}{urlencode(params)}"


@dataclass(frozen=True)
class OAuthTokens:
    """What the token endpoint granted. ``refresh_token`` is what to store."""

    refresh_token: str = field(repr=False)
    access_token: str = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]
    #: The connected account's email, when the ``email`` scope was granted.
    account_email: str | None = None


def _token_request(
    client_id: str, client_secret: str, code: str, redirect_uri: str, code_verifier: str | None
) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    return form


def _email_from_id_token(id_token: Any) -> str | None:
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


def _read_token_response(response: httpx.Response) -> OAuthTokens:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Google's token endpoint failed (HTTP {response.status_code})")
    if response.status_code != 200:
        error = data.get("error", f"HTTP {response.status_code}")
        description = data.get("error_description")
        said = f"{error}: {description}" if description else str(error)
        # invalid_grant here means the code expired or was already used: start again.
        raise PermanentError(
            f"Google refused the authorization code ({said})",
            details={"status": response.status_code, "error": error},
        )
    if not data.get("refresh_token"):
        raise PermanentError(
            "Google granted no refresh token; start the authorization again (it must ask for "
            "offline access with prompt=consent)"
        )
    expires_in = data.get("expires_in")
    expires_at = (
        datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in is not None else None
    )
    return OAuthTokens(
        refresh_token=str(data["refresh_token"]),
        access_token=str(data.get("access_token", "")),
        expires_at=expires_at,
        scopes=tuple(str(data.get("scope", "")).split()),
        account_email=_email_from_id_token(data.get("id_token")),
    )


def exchange_code(
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    token_uri: str = DEFAULT_TOKEN_URI,
    code_verifier: str | None = None,
    timeout: float = 30.0,
) -> OAuthTokens:
    """Trade the ``code`` given to the callback for tokens.

    ``redirect_uri`` must be the one given to :func:`authorization_url`, and ``code_verifier``
    the same verifier if PKCE was used. Raises
    :class:`~maillon.connectors.sdk.PermanentError` when Google refuses (expired or reused
    code, wrong client secret) and
    :class:`~maillon.connectors.sdk.TransientError` when it cannot be reached.
    """
    form = _token_request(client_id, client_secret, code, redirect_uri, code_verifier)
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(token_uri, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TransientError(f"could not reach Google's token endpoint: {exc}") from exc
    return _read_token_response(response)


async def exchange_code_async(
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    token_uri: str = DEFAULT_TOKEN_URI,
    code_verifier: str | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 (the HTTP timeout, not a cancel scope)
) -> OAuthTokens:
    """:func:`exchange_code` for an async caller (the web layer's callback route)."""
    form = _token_request(client_id, client_secret, code, redirect_uri, code_verifier)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                token_uri, data=form, headers={"Accept": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise TransientError(f"could not reach Google's token endpoint: {exc}") from exc
    return _read_token_response(response)


def connection_from_tokens(
    *,
    client_id: str,
    client_secret: str,
    tokens: OAuthTokens,
    token_uri: str | None = None,
    authorize_url: str = DEFAULT_AUTHORIZE_URL,
    api_endpoint: str | None = None,
) -> GoogleConnection:
    """The connection to store once the account is connected.

    The short-lived access token is not stored: the first action refreshes one, and keeps it in
    memory afterwards.
    """
    return GoogleConnection(
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        refresh_token=SecretStr(tokens.refresh_token),
        account_email=tokens.account_email,
        token_uri=token_uri,
        authorize_url=authorize_url,
        api_endpoint=api_endpoint,
    )
