"""``/api/alerts``: where failure alerts go, what waits to be told, and a test alert."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT
from pydantic import BaseModel

from maillon.engine.alerts import AlertSettings
from maillon.web.api.deps import ServicesDep
from maillon.web.api.schemas import AlertsOut

__all__ = ["AlertController"]


class TestAlertOut(BaseModel):
    """Whether the test alert went, and why not."""

    sent: bool
    error: str | None


class AlertController(Controller):
    path = "/api/alerts"
    tags = ["alerts"]

    @get("/")
    async def get_alerts(self, services: ServicesDep) -> AlertsOut:
        return AlertsOut.of(await services.alerts.state())

    @put("/")
    async def set_alerts(self, services: ServicesDep, data: JSONBody[AlertSettings]) -> AlertsOut:
        """Say where alerts go: a Slack, SMTP or Google connection and a channel or addresses."""
        await services.alerts.configure(data)
        return AlertsOut.of(await services.alerts.state())

    @delete("/", status_code=HTTP_204_NO_CONTENT)
    async def turn_off_alerts(self, services: ServicesDep) -> None:
        """Send no more alerts (failures waiting to be told are forgotten)."""
        await services.alerts.turn_off()

    @post("/test", status_code=200)
    async def send_test_alert(self, services: ServicesDep) -> TestAlertOut:
        """Send a test alert now, to check that alerts arrive."""
        error = await services.alerts.send_test()
        return TestAlertOut(sent=error is None, error=error)
