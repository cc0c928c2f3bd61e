"""Connecting app accounts with OAuth 2.0: one start route and one callback route per app.

1. ``POST /api/oauth/{app}/start`` (authenticated) answers the URL of the app's consent screen.
   (The UI's connection pages start consents too: :mod:`maillon.web.ui.connections`.)
2. The user grants access; the app sends the browser to ``/oauth/{app}/callback`` (public: the
   unguessable, single-use state is what protects it), which finishes connecting the account.
   A consent started from a page of the UI comes back to that page with a message saying how
   it went; one started from the API or the command line gets a page of its own.

The consent itself is the engine's (:class:`maillon.engine.services.oauth.OAuth`); these routes
parse and render.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_502_BAD_GATEWAY
from pydantic import BaseModel, Field

from maillon.connectors.errors import ConnectorError, TransientError
from maillon.engine.errors import Conflict, Invalid
from maillon.engine.i18n import current_locale, set_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.services.oauth import CALLBACK_PATH, ConsentFailed
from maillon.web.api.deps import ServicesDep
from maillon.web.auth import PUBLIC, request_locale
from maillon.web.ui.render import redirect

__all__ = ["ConnectStart", "oauth_callback", "start_oauth"]


class ConnectStart(BaseModel):
    """Which connection to create (or reconnect), with the settings asked before consent."""

    name: str = Field(min_length=1, max_length=200, examples=["backoffice-google"])
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Connection fields known before consent: an OAuth client of its own "
        "(client_id, client_secret), a tenant, a data centre, a sandbox login domain...",
    )


@post("/api/oauth/{app:str}/start", status_code=200, tags=["connections"])
async def start_oauth(
    services: ServicesDep, app: FromPath[str], data: JSONBody[ConnectStart]
) -> dict[str, Any]:
    """Begin connecting an account; open the returned ``authorize_url`` in a browser."""
    consent = await services.oauth.start(app, data.name, data.values)
    return {
        "authorize_url": consent.authorize_url,
        "redirect_uri": consent.redirect_uri,
        "expires_in": consent.expires_in,
    }


def _page(title: str, message: str, status: int = 200) -> Response[str]:
    body = (
        f"<!doctype html><html lang={current_locale()}><meta charset=utf-8><title>Maillon</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></html>"
    )
    return Response(body, media_type=MediaType.HTML, status_code=status)


@get(CALLBACK_PATH.format(app="{app:str}"), opt=PUBLIC, include_in_schema=False)
async def oauth_callback(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    app: FromPath[str],
    # "state" is a reserved name in Litestar's handler signatures: read it under another.
    oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
) -> Response[Any]:
    """Where the app sends the browser back: finish connecting the account."""
    # A public route, so no session is read: the browser's language, else the install's.
    default = request.app.state.runtime.settings.default_locale
    set_locale(request_locale(None, request.headers.get("accept-language"), default))
    try:
        done = await services.oauth.finish(app, oauth_state, code, error)
    except ConsentFailed as exc:
        return redirect(
            exc.return_to, ("error", _("Connecting failed: %(reason)s.", reason=exc.message))
        )
    except (Invalid, Conflict) as exc:
        return _page(_("Connection failed"), str(exc), HTTP_400_BAD_REQUEST)
    except ConnectorError as exc:
        status = HTTP_502_BAD_GATEWAY if isinstance(exc, TransientError) else HTTP_400_BAD_REQUEST
        return _page(_("Connection failed"), exc.message, status)
    who = done.account or _("The account")
    name = done.connection.row.name
    if done.return_to is not None:
        said = _("%(account)s is connected as “%(name)s”.", account=who, name=name)
        return redirect(done.return_to, ("success", said))
    return _page(
        _("Connected"),
        _(
            "%(account)s is connected as “%(name)s”. You can close this page.",
            account=who,
            name=name,
        ),
    )
