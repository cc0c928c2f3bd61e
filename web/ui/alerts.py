"""``/settings/alerts``: where failure alerts go, a test alert, and what waits to be told.

The form names a connection (Slack, SMTP or Google) and a recipient; the engine checks both
(:class:`maillon.engine.services.alerts.Alerts`) and a refusal is shown next to its input.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.plugins.htmx import HTMXRequest
from pydantic import ValidationError

from maillon.engine.alerts import AlertSettings
from maillon.engine.errors import Invalid
from maillon.engine.i18n import gettext as _
from maillon.engine.services import Services
from maillon.web.ui.render import Flash, ServicesDep, form, redirect, render

__all__ = ["AlertsController"]

PAGE = "settings/alerts.html"


async def _page(services: Services) -> dict[str, Any]:
    kinds = services.alerts.kinds()
    connections = [v.row for v in await services.connections.all() if v.row.app in kinds]
    return {
        "section": "settings",
        "state": await services.alerts.state(),
        "connections": connections,
        "names": await services.flows.names(),
    }


class AlertsController(Controller):
    """The failure alerts page and its forms."""

    path = "/settings/alerts"

    @get("/")
    async def show(self, request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
        """Where alerts go, and the failures waiting to be told."""
        return render(request, PAGE, **await _page(services))

    @post("/")
    async def save(self, request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
        """Say where alerts go; refused with the reason next to its input."""
        data = await form(request)
        values = {k: data.get(k, "").strip() for k in ("connection", "to", "interval")}
        refused: dict[str, str] = {}
        try:
            settings = AlertSettings.model_validate(
                {k: v for k, v in values.items() if v or k != "interval"}
            )
            await services.alerts.configure(settings)
        except ValidationError as exc:
            # Pydantic's message alone: its full text would quote what was typed.
            refused = {str(e["loc"][0]): str(e["msg"]) for e in exc.errors()}
        except Invalid as exc:
            refused = dict(exc.fields)
        if refused:
            said: list[Flash] = [("error", _("Not saved: see the reasons next to the inputs."))]
            context = await _page(services)
            return render(request, PAGE, said=said, values=values, refused=refused, **context)
        return redirect("/settings/alerts", ("success", _("Saved: failures are told there now.")))

    @post("/test")
    async def test(self, services: ServicesDep) -> Response[bytes]:
        """Send a test alert now."""
        try:
            error = await services.alerts.send_test()
        except Invalid as exc:
            return redirect("/settings/alerts", ("error", f"{exc}."))
        if error is not None:
            said = _("The test alert was not sent: %(error)s", error=error)
            return redirect("/settings/alerts", ("error", said))
        return redirect(
            "/settings/alerts", ("success", _("Test alert sent: check that it arrived."))
        )

    @post("/off")
    async def off(self, services: ServicesDep) -> Response[bytes]:
        """Send no more alerts."""
        await services.alerts.turn_off()
        return redirect("/settings/alerts", ("success", _("Alerts are off.")))
