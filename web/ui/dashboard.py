"""``/``: the dashboard, the page a signed-in user lands on.

The last day at a glance: runs finished per hour (a chart the server draws, see
:mod:`maillon.web.ui.chart`), the flows Maillon paused (each with a button to resume it), the
flows failing most, the queue, and the latest failures with a button to replay each. On a new
install it says what to do first instead.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.plugins.htmx import HTMXRequest

from maillon.engine.models import RunStatus
from maillon.web.ui.chart import hourly_chart
from maillon.web.ui.render import ServicesDep, render

__all__ = ["RECENT_FAILURES", "dashboard"]

#: How many of the latest failed runs the dashboard lists.
RECENT_FAILURES = 5


@get("/")
async def dashboard(request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
    """The figures of the last 24 hours, the queue, and the latest failures."""
    board = await services.stats.dashboard()
    return render(
        request,
        "dashboard.html",
        section="dashboard",
        board=board,
        chart=hourly_chart(board.hours),
        failures=await services.runs.list_runs(status=RunStatus.FAILED, limit=RECENT_FAILURES),
        names=await services.flows.names(),
        paused=await services.flows.paused(),
    )
