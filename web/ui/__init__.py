"""The web UI: server-rendered pages (Jinja2), htmx where a page changes in place.

:func:`ui_routes` gives the app its UI: the static files, and one router whose controllers
share what every page needs: the :data:`maillon.web.auth.UI` marker (signed-in browsers only,
strangers sent to sign in), ``request.htmx``, the services as dependencies (``services``,
``accounts``, ``tokens``, ``settings``), and errors shown as pages rather than JSON
(:mod:`maillon.web.ui.errors`, which the app's handlers use too for a browser elsewhere; the
security headers of every answer, a strict CSP on pages, are :mod:`maillon.web.edge`'s).

A new page is a controller (or handler) added to :data:`CONTROLLERS`, a template under
``web/templates`` that extends ``base.html``, and :func:`maillon.web.ui.render.render`.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from maillon.engine.errors import Forbidden, NotFound
from maillon.engine.runtime import Runtime
from maillon.web.auth import UI
from maillon.web.ui.access import AccessController
from maillon.web.ui.alerts import AlertsController
from maillon.web.ui.assets import static_files, templates
from maillon.web.ui.connections import ConnectionsController
from maillon.web.ui.dashboard import dashboard
from maillon.web.ui.errors import error_page
from maillon.web.ui.flows import FlowsController
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
            HTTPException: error_page,
            NotFound: error_page,
            Forbidden: error_page,
        },
    )
    return [static_files(), pages]
