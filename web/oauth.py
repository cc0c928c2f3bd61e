"""Connecting Google accounts with OAuth 2.0 (authorization code with PKCE).

1. ``POST /api/oauth/google/start`` (authenticated) stores a one-time ``state`` with what the
   callback will need, and answers the URL of Google's consent screen.
2. The user grants access; Google redirects the browser to ``/oauth/google/callback`` (public:
   the unguessable, single-use ``state`` is what protects it).
3. The callback trades the code for a refresh token and saves the connection, encrypted.
"""

from __future__ import annotations

import html
from contextlib import suppress
from typing import Annotated, Any

from litestar import MediaType, Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_502_BAD_GATEWAY
from pydantic import BaseModel, Field

from maillon.connectors.errors import ConnectorError, PermanentError
from maillon.engine.errors import NotFound
from maillon.engine.settings import Settings
from maillon.engine.store import Store
from maillon.web.api.deps import AnyRequest, StoreDep
from maillon.web.auth import PUBLIC

__all__ = ["GoogleConnectStart", "begin_google_consent", "google_callback", "start_google"]

STATE_TTL = 600.0
#: Equal to ``maillon.connectors.google.oauth.CALLBACK_PATH`` (a test checks). Spelled out here
#: so that serving does not import the Google OAuth module, and httpx behind it, before anyone
#: connects.
CALLBACK_PATH = "/oauth/google/callback"
_PROVIDER = "google"


class GoogleConnectStart(BaseModel):
    """Which connection to create (or reconnect), and optionally with which OAuth client."""

    name: str = Field(min_length=1, max_length=200, examples=["backoffice-google"])
    client_id: str | None = Field(None, description="Default: the connection's, then settings'.")
    client_secret: str | None = None
    token_uri: str | None = Field(None, description="Leave empty for Google's.")
    authorize_url: str | None = Field(None, description="Leave empty for Google's.")
    api_endpoint: str | None = None


@post("/api/oauth/google/start", sync_to_thread=True, status_code=200, tags=["connections"])
def start_google(
    store: StoreDep, request: AnyRequest, data: JSONBody[GoogleConnectStart]
) -> dict[str, Any]:
    """Begin connecting a Google account; open the returned ``authorize_url`` in a browser."""
    return begin_google_consent(store, request.app.state.runtime.settings, data)


def begin_google_consent(
    store: Store, settings: Settings, data: GoogleConnectStart
) -> dict[str, Any]:
    """Record a one-time state and return the consent URL (for the API and the CLI).

    Raises ``ValueError`` when no OAuth client is configured.
    """
    from maillon.connectors.google import oauth  # imported on use: see CALLBACK_PATH
    from maillon.connectors.google.connection import DEFAULT_AUTHORIZE_URL

    existing: dict[str, Any] = {}
    with suppress(NotFound):
        existing = store.connection_values(data.name)
    secret = settings.google_client_secret
    client_id = data.client_id or existing.get("client_id") or settings.google_client_id
    client_secret = (
        data.client_secret
        or existing.get("client_secret")
        or (secret.get_secret_value() if secret else None)
    )
    if not client_id or not client_secret:
        raise ValueError(
            "no Google OAuth client: give client_id and client_secret, or set "
            "MAILLON_GOOGLE_CLIENT_ID and MAILLON_GOOGLE_CLIENT_SECRET"
        )
    state, verifier = oauth.new_state(), oauth.new_code_verifier()
    authorize_url = data.authorize_url or existing.get("authorize_url") or DEFAULT_AUTHORIZE_URL
    redirect = oauth.redirect_uri(settings.base_url)
    store.put_oauth_state(
        state,
        _PROVIDER,
        {
            "name": data.name,
            "client_id": client_id,
            "client_secret": client_secret,
            "verifier": verifier,
            "redirect_uri": redirect,
            "token_uri": data.token_uri or existing.get("token_uri"),
            "authorize_url": authorize_url,
            "api_endpoint": data.api_endpoint or existing.get("api_endpoint"),
        },
    )
    url = oauth.authorization_url(
        client_id=client_id,
        redirect_uri=redirect,
        scopes=oauth.scopes_for(),
        state=state,
        authorize_url=authorize_url,
        code_verifier=verifier,
    )
    return {"authorize_url": url, "redirect_uri": redirect, "expires_in": int(STATE_TTL)}


def _page(title: str, message: str, status: int = 200) -> Response[str]:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Maillon</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></html>"
    )
    return Response(body, media_type=MediaType.HTML, status_code=status)


@get(CALLBACK_PATH, opt=PUBLIC, sync_to_thread=True, include_in_schema=False)
def google_callback(
    store: StoreDep,
    request: AnyRequest,
    # "state" is a reserved name in Litestar's handler signatures: read it under another.
    oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
) -> Response[str]:
    """Where Google sends the browser back: finish connecting the account."""
    from maillon.connectors.google import oauth  # imported on use: see CALLBACK_PATH
    from maillon.connectors.google.connection import DEFAULT_TOKEN_URI

    try:
        flow = store.take_oauth_state(oauth_state, _PROVIDER, STATE_TTL)
    except LookupError as exc:
        return _page("Connection failed", str(exc), HTTP_400_BAD_REQUEST)
    if error or not code:
        reason = error or "Google sent no authorization code"
        return _page("Connection cancelled", f"Google said: {reason}", HTTP_400_BAD_REQUEST)
    try:
        tokens = oauth.exchange_code(
            client_id=flow["client_id"],
            client_secret=flow["client_secret"],
            code=code,
            redirect_uri=flow["redirect_uri"],
            token_uri=flow["token_uri"] or DEFAULT_TOKEN_URI,
            code_verifier=flow["verifier"],
        )
    except ConnectorError as exc:
        status = HTTP_400_BAD_REQUEST if isinstance(exc, PermanentError) else HTTP_502_BAD_GATEWAY
        return _page("Connection failed", exc.message, status)
    conn = oauth.connection_from_tokens(
        client_id=flow["client_id"],
        client_secret=flow["client_secret"],
        tokens=tokens,
        token_uri=flow["token_uri"],
        authorize_url=flow["authorize_url"],
        api_endpoint=flow["api_endpoint"],
    )
    values = {
        k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
        for k, v in conn.model_dump(exclude_none=True).items()
    }
    try:
        existing = store.get_connection(flow["name"])
    except NotFound:
        existing = None
    store.save_connection("google", flow["name"], values, existing, replace=True)
    request.app.state.runtime.connections.invalidate(flow["name"])
    who = tokens.account_email or "your Google account"
    return _page("Connected", f"{who} is connected as {flow['name']!r}. You can close this page.")
