"""``/``: the page a signed-in user lands on (a welcome, until the dashboard takes its place)."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from maillon.web.ui.render import render

__all__ = ["home"]


@get("/")
async def home(request: HTMXRequest) -> Template:
    """A short welcome with the next steps."""
    return render(request, "home.html", section="dashboard")
