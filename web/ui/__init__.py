"""The web UI: server-rendered pages (Jinja2), htmx where a page changes in place.

:func:`ui_routes` gives the app its UI: the static files, and one router whose controllers
share what every page needs: the :data:`maillon.web.auth.UI` marker (signed-in browsers only,
strangers sent to sign in), ``request.htmx``, the services as dependencies (``services``,
``accounts``, ``tokens``, ``settings``), and errors shown as pages rather than JSON (the
security headers of every answer, a strict CSP on pages, are :mod:`maillon.web.edge`'s).

A new page is a controller (or handler) added to :data:`CONTROLLERS`, a template under
``web/templates`` that extends ``base.html``, and :func:`maillon.web.ui.render.render`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.plugins.htmx import HTMXRequest
from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)
from litestar.types import ControllerRouterHandler

from maillon.engine.errors import Forbidden, NotFound
from maillon.engine.i18n import gettext as _
from maillon.engine.runtime import Runtime
from maillon.web.auth import UI
from maillon.web.ui.access import AccessController
from maillon.web.ui.alerts import AlertsController
from maillon.web.ui.assets import static_files, templates
from maillon.web.ui.connections import ConnectionsController
from maillon.web.ui.dashboard import dashboard
from maillon.web.ui.flows import FlowsController
from maillon.web.ui.render import render
from maillon.web.ui.runs import RunsController, event_body
from maillon.web.ui.settings import SettingsController

__all__ = ["CONTROLLERS", "templates", "ui_routes"]

CONTROLLERS: list[ControllerRouterHandler] = [
    AccessController,
    AlertsController,
    ConnectionsController,
    FlowsController,
    RunsController,
    SettingsController,
    dashboard,
    event_body,
]


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, PermissionDeniedException):  # Litestar raises it for CSRF only here
        status = HTTP_403_FORBIDDEN
        detail = _("this form has expired or did not come from this site: reload it and try again.")
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, exc.detail
        if status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            detail = _(
                "what was sent is larger than Maillon accepts: send less, or a smaller file."
            )
        elif detail == HTTPStatus(status).phrase or detail.startswith("Validation failed"):
            # Litestar's own words (a parameter or a form it could not read): say it in the
            # reader's, about what the reader did.
            if request.method in ("GET", "HEAD"):
                detail = _("this address is not one Maillon understands: check it, or start again.")
            else:
                detail = _("this form could not be read: reload its page and send it again.")
    else:
        status = HTTP_404_NOT_FOUND if isinstance(exc, NotFound) else HTTP_403_FORBIDDEN
        detail = str(exc)
    return render(
        request, "error.html", status=status, code=status, detail=detail[:1].upper() + detail[1:]
    )


def ui_routes(runtime: Runtime) -> list[ControllerRouterHandler]:
    """The static files and the pages, bound to ``runtime``'s services."""
    pages = Router(
        path="/",
        route_handlers=CONTROLLERS,
        opt=UI,
        request_class=HTMXRequest,
        include_in_schema=False,
        dependencies={
            "services": Provide(lambda: runtime.services, sync_to_thread=False),
            "accounts": Provide(lambda: runtime.services.accounts, sync_to_thread=False),
            "tokens": Provide(lambda: runtime.services.tokens, sync_to_thread=False),
            "settings": Provide(lambda: runtime.settings, sync_to_thread=False),
        },
        exception_handlers={
            HTTPException: _error_page,
            NotFound: _error_page,
            Forbidden: _error_page,
        },
    )
    return [static_files(), pages]
