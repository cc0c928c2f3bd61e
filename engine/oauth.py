"""The OAuth 2.0 authorization-code protocol, as connectors declare it (:class:`OAuth2`).

Building the consent URL (with PKCE), trading a code for tokens, refreshing an access token:
the same for every app, parametrised by the connector's declaration. httpx is imported on use
only: a server that never connects an account never loads it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import secrets
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from maillon.connectors.base import Connection, Connector
from maillon.connectors.errors import PermanentError, TransientError
from maillon.connectors.oauth import OAuth2, TokenSet

__all__ = [
    "authorization_url",
    "code_challenge",
    "new_secret",
    "refreshable",
    "request_tokens",
]


class Refresh(Protocol):
    """Gives code about to use a connection one whose OAuth access token is valid (the OAuth
    service's ``fresh``): the executor before a step, the connection test. ``force`` when the
    app refused the token the connection holds."""

    def __call__(
        self, name: str, connector: Connector, conn: Connection, *, force: bool = False
    ) -> Awaitable[Connection]: ...


def new_secret() -> str:
    """An unguessable value: a ``state``, or a PKCE code verifier (43 to 128 characters)."""
    return secrets.token_urlsafe(48)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    oauth: OAuth2,
    base: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    verifier: str | None,
) -> str:
    """Where to send the user to grant access (``base``: the account's authorize URL)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        **oauth.authorize_params,
    }
    if oauth.scopes:
        params["scope"] = oauth.scope_separator.join(oauth.scopes)
    if verifier is not None:
        params["code_challenge"] = code_challenge(verifier)
        params["code_challenge_method"] = "S256"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"


async def request_tokens(
    oauth: OAuth2,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    form: Mapping[str, str],
    provider: str,
    timeout: float = 30.0,  # noqa: ASYNC109 (the HTTP timeout, not a cancel scope)
) -> TokenSet:
    """POST ``form`` (a code or a refresh token grant) to the token endpoint.

    Raises :class:`PermanentError` when the app refuses (expired or reused code, revoked
    refresh token, wrong client secret) and :class:`TransientError` when it cannot be reached
    or fails on its side.
    """
    import httpx

    body = dict(form)
    auth: httpx.BasicAuth | None = None
    if oauth.client_auth == "basic":
        auth = httpx.BasicAuth(client_id, client_secret)
    else:
        body.update(client_id=client_id, client_secret=client_secret)
    try:
        # The whole exchange within ``timeout``: httpx's own restarts with every byte read, so
        # an endpoint that trickles its answer would hold the caller for ever.
        async with asyncio.timeout(timeout), httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                token_url,
                data=body,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise TransientError(f"could not reach {provider}'s token endpoint: {exc}") from exc
    except TimeoutError as exc:
        raise TransientError(
            f"{provider}'s token endpoint did not answer within {timeout:g}s"
        ) from exc
    return _read(response.status_code, _json(response), provider)


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _read(status: int, data: dict[str, Any], provider: str) -> TokenSet:
    if status >= 500 or status == 429:
        raise TransientError(f"{provider}'s token endpoint failed (HTTP {status})")
    if status != 200 or not data.get("access_token"):
        error = data.get("error", f"HTTP {status}")
        description = data.get("error_description")
        said = f"{error}: {description}" if description else str(error)
        raise PermanentError(
            f"{provider} refused to grant access ({said})",
            details={"status": status, "error": error},
        )
    try:
        lifetime = float(data["expires_in"])
    except (KeyError, TypeError, ValueError):
        lifetime = math.nan
    # No lifetime, or one that is no number: the token is renewed once the app refuses it.
    expires_at = time.time() + lifetime if math.isfinite(lifetime) else None
    return TokenSet(
        access_token=str(data["access_token"]),
        refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
        expires_at=expires_at,
        scopes=tuple(str(data.get("scope", "")).split()),
        raw=data,
    )


def refreshable(connector: Connector, conn: Connection) -> bool:
    """Whether the engine keeps ``conn``'s access token fresh: an OAuth connection of a
    connector that leaves refreshes to the engine, holding a refresh token."""
    oauth = connector.oauth
    return (
        oauth is not None
        and oauth.engine_refreshes
        and "access_token" in type(conn).model_fields
        and bool(getattr(conn, "refresh_token", None))
    )
