"""Google's "test connection": ask the token endpoint for a fresh access token, and say which
account it is for.

- An OAuth user: the refresh token is traded for an access token; the account is the e-mail of
  the ID token Google returns with it (the consent asked for ``openid email``), else the one
  stored when the account was connected.
- A service account: a token is asked for each API's scopes in turn (Gmail, Sheets, Calendar,
  Drive), since domain-wide delegation grants scopes one by one; the test says which were
  refused.

No API is called and nothing is sent: a token is what every step needs first.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from maillon.connectors.google.client import (
    CALENDAR,
    DRIVE,
    GMAIL,
    SHEETS,
    GoogleApi,
    new_credentials,
    refresh_error,
)
from maillon.connectors.google.connection import AuthMode, GoogleConnection
from maillon.connectors.google.oauth import email_from_id_token
from maillon.connectors.sdk import ConnectionCheck, PermanentError, TransientError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

__all__ = ["check_connection"]

#: Seconds each token request may take.
TIMEOUT = 15.0
_APIS = {"Gmail": GMAIL, "Sheets": SHEETS, "Calendar": CALENDAR, "Drive": DRIVE}


async def check_connection(conn: GoogleConnection) -> ConnectionCheck:
    """Refresh the connection's access token (in a thread: google-auth blocks)."""
    if conn.mode is AuthMode.OAUTH:
        return await asyncio.to_thread(_check_user, conn)
    return await asyncio.to_thread(_check_service_account, conn)


def _refresh(conn: GoogleConnection, api: GoogleApi | None) -> Credentials:
    """Fresh credentials with a new access token; raise a classified error."""
    import google_auth_httplib2
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError

    credentials = new_credentials(conn, api.scopes if api else ())
    request = google_auth_httplib2.Request(httplib2.Http(timeout=TIMEOUT))
    try:
        credentials.refresh(request)  # type: ignore[no-untyped-call]  # google-auth is untyped
    except RefreshError as exc:
        raise refresh_error(exc, conn) from exc
    except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise TransientError(f"could not reach Google's token endpoint: {exc}") from exc
    return credentials


def _check_user(conn: GoogleConnection) -> ConnectionCheck:
    credentials = _refresh(conn, None)
    email = email_from_id_token(getattr(credentials, "id_token", None)) or conn.account_email
    account = f"account {email}" if email else "an account that did not say its address"
    return ConnectionCheck(
        ok=True, message=f"Google issued an access token for {account} from the refresh token."
    )


def _check_service_account(conn: GoogleConnection) -> ConnectionCheck:
    who = conn.service_account_info()["client_email"]
    if conn.subject:
        who += f" acting as {conn.subject}"
    granted, refused = [], []
    for name, api in _APIS.items():
        try:
            _refresh(conn, api)
        except PermanentError as exc:  # a transient one (unreachable) ends the test
            refused.append(f"{name} ({exc.message})")
        else:
            granted.append(name)
    if not granted:
        return ConnectionCheck(
            ok=False, message=f"Google refused every token request of {who}: {'; '.join(refused)}"
        )
    message = f"Google issued tokens to {who} for {', '.join(granted)}."
    if refused:
        message += f" Refused for {'; '.join(refused)}: steps using those apps will fail."
    return ConnectionCheck(ok=True, message=message)
