"""``/runs``: every run, filtered and paged; a run's page; replaying, cancelling runs and
releasing held ones.

The list's filters are a GET form, so that a filtered list is a URL one can bookmark or send;
htmx submits it as the filters change and swaps only the results (``runs/_results.html``),
pushing the URL. Pages are keyset pages (``before=<last id>``): ids are time-ordered, so an
older page costs the same as the first however many runs there are.

A run's page refreshes itself every two seconds while the run is queued or running (htmx,
``hx-select`` on the page's own answer), and stops once the run has finished. Replay (and, on
a held run's page, the flow's release of its held runs) are plain forms that post, then
redirect back with a message: a reload never posts again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from maillon.engine.errors import Conflict, NotFound
from maillon.engine.i18n import N_, ngettext, to_epoch
from maillon.engine.i18n import gettext as _
from maillon.engine.models import RunStatus
from maillon.engine.services.runs import (
    MAX_SEARCH,
    RUN_FILTERS,
    ReplayWith,
    RunFilter,
    run_filter,
)
from maillon.web.auth import actor
from maillon.web.ui.render import Flash, ServicesDep, form, redirect, render, safe_path

__all__ = ["PAGE_SIZE", "RunFilters", "RunsController", "event_body"]

PAGE_SIZE = 50

#: The time filter's choices: value, words (translated where shown), and how far back
#: (``None``: no limit).
PERIODS: list[tuple[str, str, float | None]] = [
    ("", N_("Any time"), None),
    ("1h", N_("Last hour"), 3600),
    ("24h", N_("Last 24 hours"), 86_400),
    ("7d", N_("Last 7 days"), 7 * 86_400),
    ("range", N_("Between the dates below"), None),
]
_SPANS = {value: span for value, _label, span in PERIODS}
#: What ``<input type="datetime-local">`` sends (seconds are optional).
_LOCAL_TIME = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class RunFilters:
    """The list's filters as the URL gives them; every value is kept as typed, for the form."""

    flow: str = ""
    status: str = ""
    period: str = ""
    start: str = ""
    end: str = ""
    before: str = ""
    #: Text the run's event or error contains.
    text: str = ""

    @classmethod
    def read(cls, query: Mapping[str, str]) -> tuple[RunFilters, list[Flash]]:
        """The filters in ``query``, and what was wrong with them (those parts are ignored)."""
        said: list[Flash] = []
        status = query.get("status", "")
        if status and status not in RUN_FILTERS:
            said.append(
                (
                    "error",
                    _("There is no status “%(status)s”: showing every status.", status=status[:40]),
                )
            )
            status = ""
        period = query.get("period", "")
        if period not in _SPANS:
            period = ""
        filters = cls(
            flow=query.get("flow", "")[:36],
            status=status,
            period=period,
            start=query.get("from", "")[:19],
            end=query.get("to", "")[:19],
            before=query.get("before", "")[:36],
            text=query.get("q", "").strip()[:MAX_SEARCH],
        )
        for label, text in ((_("From"), filters.start), (_("To"), filters.end)):
            if filters.period == "range" and text and _epoch(text) is None:
                said.append(
                    (
                        "error",
                        _(
                            "%(field)s: enter a date and time such as 2026-11-29T14:00.",
                            field=label,
                        ),
                    )
                )
        since, until = filters.window(0)
        if since is not None and until is not None and since > until:
            said.append(("error", _("The start of the range is after its end: no run is in it.")))
        return filters, said

    def window(self, now: float) -> tuple[float | None, float | None]:
        """``(since, until)`` in epoch seconds, either ``None`` when open."""
        if self.period == "range":
            return _epoch(self.start), _epoch(self.end)
        span = _SPANS.get(self.period)
        return (now - span if span else None), None

    @property
    def range_shown(self) -> tuple[str, str]:
        """The range's start and end as the heading and the form show them: each only when it
        is a date (a wrong one is said apart, and the list ignores it)."""
        start, end = (text if _epoch(text) is not None else "" for text in (self.start, self.end))
        return start, end

    @property
    def run_status(self) -> RunFilter | None:
        """The status filter (or a queued run's reason to wait), if any."""
        return run_filter(self.status) if self.status else None

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list (paging aside)."""
        return any((self.flow, self.status, self.period, self.text))

    def url(self, **changes: str) -> str:
        """``/runs`` with these filters, ``changes`` applied; empty values left out."""
        chosen = replace(self, **changes)
        params = {
            "flow": chosen.flow,
            "status": chosen.status,
            "period": chosen.period,
            "from": chosen.start if chosen.period == "range" else "",
            "to": chosen.end if chosen.period == "range" else "",
            "q": chosen.text,
            "before": chosen.before,
        }
        query = urlencode({k: v for k, v in params.items() if v})
        return f"/runs?{query}" if query else "/runs"


def _epoch(text: str) -> float | None:
    """A ``datetime-local`` value read in the reader's time zone (that of the times the pages
    show), or ``None``."""
    for shape in _LOCAL_TIME:
        try:
            parsed = dt.datetime.strptime(text, shape)
        except ValueError:
            continue
        return to_epoch(parsed)
    return None


def _replay_with(data: dict[str, str]) -> ReplayWith:
    """The version a replay button chose: the flow's current one, or (by default) the one
    each run ran."""
    return ReplayWith.CURRENT if data.get("version") == ReplayWith.CURRENT else ReplayWith.RAN


class RunsController(Controller):
    """The runs list, a run's page, and replaying or cancelling a run."""

    path = "/runs"

    @get("/")
    async def list_runs(self, request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
        """Runs newest first, filtered by flow, status and time; ``before`` pages back."""
        filters, said = RunFilters.read(request.query_params)
        since, until = filters.window(time.time())
        search = None
        selection: dict[str, Any] = {
            "flow": filters.flow or None,
            "status": filters.run_status,
            "since": since,
            "limit": PAGE_SIZE + 1,
            "before": filters.before or None,
            "until": until,
        }
        try:
            if filters.text:
                search = await services.runs.search(filters.text, **selection)
                found = search.lines
            else:
                found = await services.runs.browse(**selection)
        except NotFound:
            # A flow deleted with its runs (an old link, a bookmark): nothing matches.
            found = []
        page = found[:PAGE_SIZE]
        older = filters.url(before=page[-1].run.id) if len(found) > PAGE_SIZE else None
        # A search read its window of runs without filling the page: older ones are unread.
        further = filters.url(before=search.searched_to) if search and search.searched_to else None
        # One flow's failed runs replay at once: with the version each ran, or with the
        # current one when some ran an older one (the fix was published since).
        replay_versions = None
        if filters.flow and filters.run_status == RunStatus.FAILED and page:
            replay_versions = await services.runs.older_failures(filters.flow, since, until)

        # htmx asks for the results alone, except when it restores a page from history.
        partial = request.htmx and not request.htmx.history_restore_request
        return render(
            request,
            "runs/_results.html" if partial else "runs/list.html",
            said=said,
            # The same URL answers a page or its results: caches must keep them apart.
            headers={"Vary": "HX-Request"},
            section="runs",
            runs=page,
            names=await services.flows.names(),
            filters=filters,
            periods=PERIODS,
            statuses=RUN_FILTERS,
            older=older,
            further=further,
            searched=search.window if search else 0,
            replay_versions=replay_versions,
        )

    @post("/replay-failed")
    async def replay_failed(self, request: HTMXRequest, services: ServicesDep) -> Response[Any]:
        """Replay every failed run of the flow the list is filtered by, in its time window,
        with the version each ran or the flow's current one; then that flow's runs, the
        replayed ones among them."""
        data = await form(request)
        filters, _said = RunFilters.read(data)
        since, until = filters.window(time.time())
        try:
            count = await services.runs.replay_failed(
                filters.flow,
                _replay_with(data),
                by=actor(request),
                since=since,
                until=until,
            )
        except NotFound as exc:
            return redirect(filters.url(), ("error", _("Not replayed: %(reason)s.", reason=exc)))
        if not count:
            return redirect(filters.url(), ("info", _("No failed run to replay: none is left.")))
        back = filters.url(status="")
        said = ngettext(
            "%(num)s failed run queued again: it resumes from its first step that did not succeed.",
            "%(num)s failed runs queued again: each resumes from its first step that did not "
            "succeed.",
            count,
        )
        return redirect(back, ("success", said))

    @get("/{run_id:str}")
    async def show(
        self, request: HTMXRequest, services: ServicesDep, run_id: FromPath[str]
    ) -> Response[bytes]:
        """A run: its flow, times, error, the event that started it, and every step."""
        detail = await services.runs.detail(run_id)
        return render(request, "runs/run.html", section="runs", detail=detail)

    @post("/{run_id:str}/replay")
    async def replay(
        self, request: HTMXRequest, services: ServicesDep, run_id: FromPath[str]
    ) -> Response[Any]:
        """Queue a failed, held or cancelled run again (with the flow version it ran, or the
        current one), then go back where the button was."""
        data = await form(request)
        back = safe_path(data.get("next"), f"/runs/{run_id}")
        try:
            await services.runs.replay(run_id, _replay_with(data), by=actor(request))
        except Conflict as exc:
            return redirect(back, ("error", _("Not replayed: %(reason)s.", reason=exc)))
        # Said as the button that was pressed said it: a held run has not run before.
        if data.get("held"):
            said = _("Run queued: it runs now, alone; the flow’s other held runs stay held.")
        else:
            said = _("Replay queued: the run resumes from its first step that did not succeed.")
        return redirect(back, ("success", said))

    @post("/{run_id:str}/cancel")
    async def cancel(
        self, request: HTMXRequest, services: ServicesDep, run_id: FromPath[str]
    ) -> Response[Any]:
        """Stop a run that is queued or held; back to its page."""
        try:
            await services.runs.cancel(run_id, by=actor(request))
        except Conflict as exc:
            said = _("Not cancelled: %(reason)s.", reason=exc)
            return redirect(f"/runs/{run_id}", ("error", said))
        said = _("Run cancelled: none of its remaining steps will run.")
        return redirect(f"/runs/{run_id}", ("success", said))


@get("/events/{event_id:str}/body.json")
async def event_body(services: ServicesDep, event_id: FromPath[str]) -> Response[str]:
    """A delivery's body as it was stored, as a file to download."""
    event, _body = await services.runs.get_event(event_id)
    return Response(
        event.body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="event-{event.id}.json"'},
    )
