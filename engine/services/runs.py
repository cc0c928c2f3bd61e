"""Events and runs: the history, each run's steps, putting runs back in the queue, and
cancelling those no worker holds.

Replaying a run and releasing held runs queue work: both wake this process's workers as part of
the operation, so that no caller has to remember to. A run keeps the flow version it was
created with through retries, replays and releases; a replay may instead move it to the flow's
current published version (:attr:`ReplayWith.CURRENT`), when that version fixes the failure.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, func, literal_column, update
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.flows import parse_flow
from maillon.engine.i18n import DEFAULT_LOCALE, N_, use_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import id_floor, new_id
from maillon.engine.metrics import Metrics
from maillon.engine.models import (
    RARE_STATUS_KEY,
    RARE_STATUSES,
    EventRow,
    FlowRow,
    FlowVersionRow,
    RejectedDeliveryRow,
    ReplayRow,
    RunRow,
    RunStatsRow,
    RunStatus,
    StepRow,
    StepStatus,
    rare_status_key,
    stats_hour,
)
from maillon.engine.services.base import COMMAND_LINE, Actor, Service, actor_name, find_flow
from maillon.engine.wakeup import Wakeup

__all__ = [
    "MAX_SEARCH",
    "RUN_FILTERS",
    "SEARCH_WINDOW",
    "FlowRef",
    "Found",
    "NotDue",
    "Replay",
    "ReplayWith",
    "RunDetail",
    "RunFilter",
    "RunLine",
    "Runs",
    "cancel_runs",
    "events_of",
    "not_due",
    "run_filter",
    "run_state",
    "state_label",
]


class NotDue(StrEnum):
    """Why a queued run is not due yet (see :func:`run_state`): lists of runs are filtered
    by these as by a status."""

    #: A step failed for a passing reason and is tried again at ``available_at``.
    RETRYING = "retrying"
    #: A delay step holds it until ``available_at``.
    WAITING = "waiting"


#: What a list of runs can be filtered by.
RunFilter = RunStatus | NotDue
#: The filters in the order lists offer them: a queued run's reasons to wait after it.
RUN_FILTERS: tuple[RunFilter, ...] = (
    RunStatus.QUEUED,
    NotDue.WAITING,
    NotDue.RETRYING,
    *(s for s in RunStatus if s != RunStatus.QUEUED),
)


def run_filter(value: str) -> RunFilter:
    """``value`` as a filter (a status, ``retrying`` or ``waiting``); raises ``ValueError``."""
    return NotDue(value) if value in set(NotDue) else RunStatus(value)


#: The runs a replay queues again.
REPLAYABLE = (RunStatus.FAILED, RunStatus.HELD, RunStatus.CANCELLED)
#: The runs that can be cancelled: those no worker holds.
CANCELLABLE = (RunStatus.QUEUED, RunStatus.HELD)


def cancellable(now: float) -> ColumnElement[bool]:
    """The runs no worker holds at ``now``: queued or held, or running under a lease that
    expired (its worker died, and none has taken it over yet: once one does, it runs again)."""
    return or_(
        col(RunRow.status).in_(CANCELLABLE),
        and_(col(RunRow.status) == RunStatus.RUNNING, col(RunRow.lease_expires_at) < now),
    )


class ReplayWith(StrEnum):
    """Which version of its flow a replayed run executes."""

    #: The version the run was created with (and ran): what a replay did before versions.
    RAN = "ran"
    #: The flow's published version now; the steps that succeeded are not run again.
    CURRENT = "current"


def run_state(run: RunRow, now: float | None = None) -> RunFilter:
    """What a run is doing, in more words than its status, which for a run not yet due says
    only ``queued``: ``retrying`` when a step failed for a passing reason and is tried again at
    ``available_at``, ``waiting`` when a delay step holds it until then; else its status."""
    if run.status == RunStatus.QUEUED and run.available_at > (time.time() if now is None else now):
        # A retry says why in the run's error (lists show it without the steps); a delay
        # is no error.
        return NotDue.RETRYING if run.error else NotDue.WAITING
    return RunStatus(run.status)


#: A run's or a step's status or state in words (``not_run``: a step the run has not reached).
_STATE_LABELS = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "held": N_("Held"),
    "retrying": N_("Retrying"),
    "filtered": N_("Filtered"),
    "cancelled": N_("Cancelled"),
    "waiting": N_("Waiting"),
    "not_run": N_("Not run"),
}


def state_label(value: str) -> str:
    """A run's or a step's status or state in the reader's words (``failed`` → "Failed")."""
    label = _STATE_LABELS.get(value)
    return _(label) if label else value.capitalize()


def not_due(reason: NotDue, now: float) -> ColumnElement[bool]:
    """The runs :func:`run_state` says are ``reason`` at ``now``, as a query's condition: the
    (status, available_at) index, then the error."""
    error = col(RunRow.error)
    return and_(
        col(RunRow.status) == RunStatus.QUEUED,
        col(RunRow.available_at) > now,
        error.is_not(None) if reason is NotDue.RETRYING else error.is_(None),
    )


def cancel_runs(s: Session, which: ColumnElement[bool], reason: str) -> int:
    """End ``cancelled`` the runs of ``which`` that no worker holds (:func:`cancellable`),
    with ``reason`` as their error, and their steps that were waiting or retrying; return how
    many.

    The runs go first, in one statement: a worker claiming one of them at that moment either
    took it first (it is not cancelled) or finds it cancelled (nothing of it runs), so that no
    step of a run that goes on is ever marked cancelled. A worker that lost its lease and yet
    still runs the run can write nothing more of it (every write checks the lease), as when
    another worker takes it over.
    """
    now = time.time()
    ended = s.exec(
        update(RunRow)
        .where(which, cancellable(now))
        .values(
            status=RunStatus.CANCELLED,
            finished_at=now,
            error=reason,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(col(RunRow.id))
    )
    ids = list(ended.scalars())
    # A waiting delay ends now; a retrying step keeps the times of its last attempt.
    finished = case(
        (col(StepRow.status) == StepStatus.WAITING, now), else_=col(StepRow.finished_at)
    )
    for first in range(0, len(ids), 500):  # well within every driver's parameter limit
        s.exec(
            update(StepRow)
            .where(
                col(StepRow.run_id).in_(ids[first : first + 500]),
                col(StepRow.status).in_([StepStatus.WAITING, StepStatus.RETRYING]),
            )
            .values(status=StepStatus.CANCELLED, finished_at=finished)
        )
    return len(ids)


def time_taken(run: RunRow, replayed_at: float | None) -> float | None:
    """Seconds from the run's start to its end; for a replayed run, from its last replay
    (``replayed_at``), not counting the time it waited for someone to replay it. ``None``: it
    has not ended (since its last replay)."""
    if run.started_at is None or run.finished_at is None:
        return None
    start = max(run.started_at, replayed_at or 0.0)
    return run.finished_at - start if run.finished_at >= start else None


def _rare(flow_id: str, status: RunStatus) -> ColumnElement[bool]:
    """The runs of ``flow_id`` in a rare ``status``, in the words of their index (the database
    uses an expression index only for the very same expression)."""
    return literal_column(RARE_STATUS_KEY) == rare_status_key(flow_id, status)


@dataclass(frozen=True)
class FlowRef:
    """The flow a run belongs to, as it is now."""

    id: str
    name: str
    enabled: bool
    #: The flow's published version now (a run may have run an older one).
    version: int
    #: ``enabled``, ``disabled`` or ``paused`` (see :attr:`FlowRow.state`).
    state: str


def _kept(step: StepRow) -> dict[str, Any]:
    """A row of the ledger as a replay keeps it (JSON): every column but its run's id."""
    return {name: getattr(step, name) for name in StepRow.model_fields if name != "run_id"}


@dataclass(frozen=True)
class Replay:
    """A replay of a run, and the failure it replaced (see :class:`ReplayRow`)."""

    row: ReplayRow
    #: The ledger's rows of the steps that had not succeeded, as they were before the replay.
    steps: list[StepRow]

    @classmethod
    def of(cls, row: ReplayRow) -> Replay:
        steps = [StepRow.model_validate({**s, "run_id": row.run_id}) for s in json.loads(row.steps)]
        return cls(row, steps)


@dataclass(frozen=True)
class RunDetail:
    """A run with everything its page shows."""

    run: RunRow
    #: ``None`` once the flow is deleted (its runs stay as history).
    flow: FlowRef | None
    #: The delivery that started the run.
    event: EventRow | None
    #: The steps the run reached, in order, as the ledger recorded them.
    steps: list[StepRow]
    #: Keys of the steps of the run's version of the flow that the run has not reached.
    not_run: list[str] = field(default_factory=list)
    #: Held runs of the same flow, this one included (counted for held runs only).
    held_in_flow: int = 0
    #: Failed runs of the same flow, this one included (counted for failed runs only).
    failed_in_flow: int = 0
    #: Its replays, oldest first, each with the failure it replaced.
    replays: list[Replay] = field(default_factory=list)

    @property
    def took(self) -> float | None:
        """See :func:`time_taken`."""
        return time_taken(self.run, self.replays[-1].row.replayed_at if self.replays else None)

    @property
    def state(self) -> str:
        """See :func:`run_state`."""
        return run_state(self.run)

    @property
    def can_replay(self) -> bool:
        """Whether a replay can run this run again: :meth:`Runs.replay` takes it, and its flow
        is still there (a run of a deleted flow would only fail again)."""
        return self.run.status in REPLAYABLE and self.flow is not None

    @property
    def can_cancel(self) -> bool:
        """Whether :meth:`Runs.cancel` takes this run (now)."""
        run = self.run
        if run.status == RunStatus.RUNNING:
            return run.lease_expires_at is not None and run.lease_expires_at < time.time()
        return run.status in CANCELLABLE

    @property
    def by_hand(self) -> tuple[bool, str | None]:
        """Whether someone started the run by hand (a scheduled flow's Run now), and who (as
        the tick's request records them; ``None`` when unknown)."""
        if self.event is None or self.event.source != "schedule":
            return False, None
        meta = json.loads(self.event.meta or "{}")
        if not isinstance(meta, dict) or "run_by" not in meta:
            return False, None
        return True, meta["run_by"]

    @property
    def resumes_at(self) -> str | None:
        """The step a replay starts from: the first that has not succeeded."""
        for step in self.steps:
            if step.status != StepStatus.SUCCEEDED:
                return step.step_key
        return self.not_run[0] if self.not_run else None


@dataclass(frozen=True)
class RunLine:
    """A run in a list people read: with its flow's name (``None`` once the flow is deleted)
    and how many times it was replayed (a run that succeeded may have failed before)."""

    run: RunRow
    flow_name: str | None
    replays: int = 0
    #: When it was last replayed.
    replayed_at: float | None = None

    @property
    def took(self) -> float | None:
        """See :func:`time_taken`."""
        return time_taken(self.run, self.replayed_at)

    @property
    def can_replay(self) -> bool:
        """See :attr:`RunDetail.can_replay`."""
        return self.run.status in REPLAYABLE and self.flow_name is not None

    @property
    def state(self) -> str:
        """See :func:`run_state`."""
        return run_state(self.run)


#: How many runs a search by content reads back from where it starts: each is matched on its
#: event's body and its error, which no index serves, so that a search that finds nothing
#: reads this many and stops; the caller goes on from where it stopped (:attr:`Found.searched_to`).
SEARCH_WINDOW = 5_000
#: The longest text searched for.
MAX_SEARCH = 200


@dataclass(frozen=True)
class Found:
    """Runs whose event or error contains a text, newest first (:meth:`Runs.search`)."""

    lines: list[RunLine]
    #: The oldest run read, when the search read its whole window without filling the page:
    #: older runs are yet to be searched, from there (``before=searched_to``). ``None`` when
    #: every run of the selection was read, or the page is full.
    searched_to: str | None
    #: How many runs it reads at most: its window.
    window: int


def events_of(flow_id: str) -> SelectOfScalar[EventRow]:
    """Events that reached a flow (app events are shared by flows: found by their runs)."""
    ran = select(RunRow.event_id).where(RunRow.flow_id == flow_id)
    return select(EventRow).where(or_(col(EventRow.flow_id) == flow_id, col(EventRow.id).in_(ran)))


#: Lists of runs go newest first: ids are time-ordered.
_newest = col(RunRow.id).desc()


def _runs(
    flow_ids: list[str] | None,
    status: RunFilter | None,
    limit: int,
    before: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> SelectOfScalar[RunRow]:
    """Runs newest first, filtered; each filter is a range of the (flow, id) or (status, id)
    index."""
    q = select(RunRow).order_by(_newest).limit(limit)
    if (
        flow_ids is not None
        and len(flow_ids) == 1
        and isinstance(status, RunStatus)
        and status in RARE_STATUSES
    ):
        # One flow's failed or held runs: through their own index (few among many).
        q = q.where(_rare(flow_ids[0], status))
    else:
        if flow_ids is not None:
            one = len(flow_ids) == 1
            q = q.where(RunRow.flow_id == flow_ids[0] if one else col(RunRow.flow_id).in_(flow_ids))
        if isinstance(status, NotDue):
            q = q.where(not_due(status, time.time()))
        elif status:
            q = q.where(RunRow.status == status)
    if before:
        q = q.where(col(RunRow.id) < before)
    if until is not None:
        q = q.where(col(RunRow.id) < id_floor(until))
    if since is not None:
        q = q.where(col(RunRow.id) >= id_floor(since))
    return q


def _flow_ids(s: Session, flow: str | None) -> list[str] | None:
    """The flows ``flow`` names for a list of runs (see :meth:`Runs.browse`); ``None``: all."""
    if not flow:
        return None
    ids = list(s.exec(select(FlowRow.id).where(or_(FlowRow.id == flow, FlowRow.name == flow))))
    if ids:
        return ids
    if s.exec(select(RunRow.id).where(RunRow.flow_id == flow)).first() is None:
        raise NotFound(_("no flow %(ref)s (by id or name), and no run of one", ref=flow))
    return [flow]  # a deleted flow's runs


def _lines(s: Session, runs: list[RunRow]) -> list[RunLine]:
    """``runs`` as a list shows them: with their flow's name and their replays."""
    flow_ids = {r.flow_id for r in runs}
    names: dict[str, str] = dict(
        s.exec(select(FlowRow.id, FlowRow.name).where(col(FlowRow.id).in_(flow_ids))).all()
    )
    replays = _replay_counts(s, [r.id for r in runs])
    return [RunLine(r, names.get(r.flow_id), *replays.get(r.id, (0, None))) for r in runs]


#: Runs replayed in one transaction by :meth:`Runs.replay_failed`.
_REPLAY_BATCH = 200


def _replay(s: Session, runs: list[RunRow], with_version: ReplayWith, by: str | None) -> None:
    """Queue ``runs`` (failed, held or cancelled, read in ``s`` and locked) again, each
    keeping what it replaces as a :class:`ReplayRow`: its error and the ledger's rows of its
    steps that had not succeeded, whose attempt counts restart."""
    now = time.time()
    failures = _failures(runs)
    unfinished: dict[str, list[StepRow]] = defaultdict(list)
    steps = s.exec(
        select(StepRow)
        .where(
            col(StepRow.run_id).in_([run.id for run in runs]),
            col(StepRow.status) != StepStatus.SUCCEEDED,
        )
        .order_by(col(StepRow.position), col(StepRow.started_at))
    )
    for step in steps:
        unfinished[step.run_id].append(step)
    current: dict[str, int] = {}
    if with_version is ReplayWith.CURRENT:
        flows = {run.flow_id for run in runs}
        found = s.exec(select(FlowRow.id, FlowRow.version).where(col(FlowRow.id).in_(flows)))
        current = {flow_id: version for flow_id, version in found}
    for run in runs:
        # A deleted flow has no current version: the run keeps its own (and fails).
        version = current.get(run.flow_id, run.flow_version)
        kept = unfinished[run.id]
        s.add(
            ReplayRow(
                id=new_id(),
                run_id=run.id,
                replayed_at=now,
                replayed_by=by,
                status=run.status,
                error=run.error,
                from_version=run.flow_version,
                to_version=version,
                steps=json.dumps([_kept(step) for step in kept]),
            )
        )
        for step in kept:
            step.attempts = 0
            s.add(step)
        run.status, run.available_at, run.error = RunStatus.QUEUED, now, None
        run.finished_at = None  # it has not ended since: its page must not say it has
        run.flow_version = version
        # A fresh start: the takeovers that made it a poison run are behind it.
        run.takeovers = 0
        s.add(run)
    _take_back(s, failures)


def _failures(runs: list[RunRow]) -> Counter[tuple[str, int]]:
    """The failures of ``runs`` as their flows' hourly figures count them."""
    return Counter(
        (run.flow_id, stats_hour(run.finished_at))
        for run in runs
        if run.status == RunStatus.FAILED and run.finished_at is not None
    )


def _take_back(s: Session, failures: Counter[tuple[str, int]]) -> None:
    """Uncount ``failures`` (of runs being replayed) from their flows' hourly figures: each
    run is counted again when it finishes, so that the dashboard and the flows list count
    the runs that failed, not the times they did. Last in the replay's transaction, and in
    key order, so that two replays at once lock the figures' rows in the same order and
    workers finishing runs wait for them the least."""
    for (flow_id, hour), count in sorted(failures.items()):
        left = case((col(RunStatsRow.failed) > count, col(RunStatsRow.failed) - count), else_=0)
        s.exec(
            update(RunStatsRow)
            .where(col(RunStatsRow.flow_id) == flow_id, col(RunStatsRow.hour) == hour)
            .values(failed=left)
        )


def _run_row(s: Session, run_id: str) -> RunRow:
    run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(_("no run %(id)s", id=run_id))
    return run


def _steps(s: Session, run_id: str) -> list[StepRow]:
    """A run's steps as the ledger has them; a loop's items share its place: in the order
    they ran."""
    q = select(StepRow).where(StepRow.run_id == run_id)
    return list(s.exec(q.order_by(col(StepRow.position), col(StepRow.started_at))))


def _replays(s: Session, run_id: str) -> list[Replay]:
    q = select(ReplayRow).where(ReplayRow.run_id == run_id).order_by(col(ReplayRow.id))
    return [Replay.of(row) for row in s.exec(q)]


def _replay_counts(s: Session, run_ids: list[str]) -> dict[str, tuple[int, float]]:
    """How many times each of these runs was replayed and when last (absent: never); one
    look-up of the (run, id) index per run, for the page of runs a list shows."""
    q = (
        select(ReplayRow.run_id, func.count(), func.max(ReplayRow.replayed_at))
        .where(col(ReplayRow.run_id).in_(run_ids))
        .group_by(col(ReplayRow.run_id))
    )
    return {run_id: (count, last) for run_id, count, last in s.exec(q).all()}


class Runs(Service):
    """Read events and runs; replay failed runs; release held ones; cancel waiting ones."""

    def __init__(
        self, db: Engine, wakeup: Wakeup, metrics: Metrics, locale: str = DEFAULT_LOCALE
    ) -> None:
        super().__init__(db)
        self._wakeup = wakeup
        self._metrics = metrics
        #: The install's language: what a run's record says is written in it, whoever acted.
        self.locale = locale

    async def list_events(
        self, flow_id: str | None = None, limit: int = 50, before: str | None = None
    ) -> list[EventRow]:
        """Deliveries, newest first; page with ``before=<last id>``."""

        def read() -> list[EventRow]:
            q = (
                events_of(flow_id)
                if flow_id
                else select(EventRow).order_by(col(EventRow.id).desc())
            )
            if before:
                q = q.where(col(EventRow.id) < before)
            with self.session() as s:
                return list(s.exec(q.limit(limit)))

        return await self.sync(read)

    async def list_rejected(
        self, flow_id: str | None = None, limit: int = 50, before: str | None = None
    ) -> list[RejectedDeliveryRow]:
        """Deliveries refused for their signature, newest first; page with ``before``."""

        def read() -> list[RejectedDeliveryRow]:
            q = select(RejectedDeliveryRow).order_by(col(RejectedDeliveryRow.id).desc())
            if flow_id:
                q = q.where(RejectedDeliveryRow.flow_id == flow_id)
            if before:
                q = q.where(col(RejectedDeliveryRow.id) < before)
            with self.session() as s:
                return list(s.exec(q.limit(limit)))

        return await self.sync(read)

    async def get_event(self, event_id: str) -> tuple[EventRow, list[RunRow]]:
        """One delivery and the runs it started."""

        def read() -> tuple[EventRow, list[RunRow]]:
            with self.session() as s:
                row = s.get(EventRow, event_id)
                if row is None:
                    raise NotFound(_("no event %(id)s", id=event_id))
                runs = list(s.exec(select(RunRow).where(RunRow.event_id == event_id)))
            return row, runs

        return await self.sync(read)

    async def list_runs(
        self,
        flow_id: str | None = None,
        status: RunFilter | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunRow]:
        """Runs, newest first; filter by flow, status and creation time (epoch seconds, from
        ``since`` to before ``until``); page with ``before=<last id>``.

        Ids are time-ordered, so every filter is a range of the (flow, id) or (status, id)
        index, or for one flow's failed or held runs of :data:`RARE_STATUS_KEY`'s: a page costs
        the same with a thousand runs or ten million.
        """

        def read() -> list[RunRow]:
            q = _runs([flow_id] if flow_id else None, status, limit, before, since, until)
            with self.session() as s:
                return list(s.exec(q))

        return await self.sync(read)

    async def browse(
        self,
        flow: str | None = None,
        status: RunFilter | None = None,
        since: float | None = None,
        limit: int = 50,
        *,
        before: str | None = None,
        until: float | None = None,
    ) -> list[RunLine]:
        """Runs newest first, each with its flow's name and its number of replays; ``flow`` is
        a flow's id or its name (every flow of that name), or the id of a deleted flow whose
        runs remain. Filters and paging as :meth:`list_runs`.

        Raises :class:`NotFound` when ``flow`` names no flow and no run.
        """

        def read() -> list[RunLine]:
            with self.session() as s:
                runs = list(s.exec(_runs(_flow_ids(s, flow), status, limit, before, since, until)))
                return _lines(s, runs)

        return await self.sync(read)

    async def search(
        self,
        text: str,
        flow: str | None = None,
        status: RunFilter | None = None,
        since: float | None = None,
        limit: int = 50,
        *,
        before: str | None = None,
        until: float | None = None,
    ) -> Found:
        """Runs whose event (its JSON) or error contains ``text``, regardless of case (an
        e-mail address, a transaction's id, ``timed out``), among the :data:`SEARCH_WINDOW`
        newest runs of :meth:`browse`'s selection from ``before``: a search costs the same
        however many runs are kept, and goes further back page by page.

        Raises :class:`Invalid` for an empty text, or one over :data:`MAX_SEARCH` characters;
        :class:`NotFound` as :meth:`browse`.
        """
        wanted = text.strip()
        if not wanted or len(wanted) > MAX_SEARCH:
            raise Invalid([_("search for 1 to %(max)s characters", max=MAX_SEARCH)])

        def read() -> Found:
            with self.session() as s:
                window = (
                    _runs(_flow_ids(s, flow), status, SEARCH_WINDOW, before, since, until)
                    .with_only_columns(col(RunRow.id))
                    .subquery()
                )
                matched = (
                    select(RunRow)
                    .join(window, window.c.id == col(RunRow.id))
                    .outerjoin(EventRow, col(EventRow.id) == col(RunRow.event_id))
                    .where(
                        or_(
                            col(EventRow.body).icontains(wanted, autoescape=True),
                            col(RunRow.error).icontains(wanted, autoescape=True),
                        )
                    )
                    .order_by(_newest)
                    .limit(limit)
                )
                runs = list(s.exec(matched))
                read_to = None
                if len(runs) < limit:
                    read, oldest = s.exec(select(func.count(), func.min(window.c.id))).one()
                    read_to = oldest if read == SEARCH_WINDOW else None
                return Found(_lines(s, runs), read_to, SEARCH_WINDOW)

        return await self.sync(read)

    async def history(self, run_id: str) -> tuple[RunRow, list[StepRow], list[Replay]]:
        """One run, its steps in order, and its replays oldest first: what the API gives of
        a run (its page reads more: :meth:`detail`)."""

        def read() -> tuple[RunRow, list[StepRow], list[Replay]]:
            with self.session() as s:
                return _run_row(s, run_id), _steps(s, run_id), _replays(s, run_id)

        return await self.sync(read)

    async def detail(self, run_id: str) -> RunDetail:
        """One run with its flow, the event that started it and its steps (for its page)."""

        def read() -> RunDetail:
            with self.session() as s:
                run = _run_row(s, run_id)
                steps = _steps(s, run_id)
                flow = s.get(FlowRow, run.flow_id)
                ran = s.get(FlowVersionRow, (run.flow_id, run.flow_version))
                alike = 0  # runs of the flow in this run's status, when it is a rare one
                if run.status in RARE_STATUSES:
                    alike = s.exec(
                        select(func.count())
                        .select_from(RunRow)
                        .where(_rare(run.flow_id, run.status))
                    ).one()
                event = s.get(EventRow, run.event_id)
                replayed = _replays(s, run_id)
            not_run: list[str] = []
            if ran is not None:
                reached = {step.step_key for step in steps}
                spec = parse_flow(ran.flow_id, ran.version, ran.definition)
                not_run = [step.key for step in spec.all_steps() if step.key not in reached]
            return RunDetail(
                run=run,
                flow=FlowRef(flow.id, flow.name, flow.enabled, flow.version, flow.state)
                if flow
                else None,
                event=event,
                steps=steps,
                not_run=not_run,
                held_in_flow=int(alike) if run.status == RunStatus.HELD else 0,
                failed_in_flow=int(alike) if run.status == RunStatus.FAILED else 0,
                replays=replayed,
            )

        return await self.sync(read)

    async def replay(
        self, run_id: str, with_version: ReplayWith = ReplayWith.RAN, *, by: Actor = None
    ) -> RunRow:
        """Queue a failed, held or cancelled run again; it resumes at its first unfinished step,
        with the flow version it ran, or with the flow's current published version.

        The failed step's attempt count restarts, so a replay gets the full retry budget. The
        ledger's rows of the steps that had not succeeded are about to be written over: they
        are kept, with the run's error and who replayed it (``by``), as a :class:`Replay`.
        """

        def write() -> RunRow:
            with self.session(write=True) as s:
                # Locked (on PostgreSQL) so that what is kept is what the replay replaces.
                run = s.exec(select(RunRow).where(RunRow.id == run_id).with_for_update()).first()
                if run is None:
                    raise NotFound(_("no run %(id)s", id=run_id))
                if run.status not in REPLAYABLE:
                    raise Conflict(
                        _(
                            "run %(id)s is %(status)s; only failed, held or cancelled runs replay",
                            id=run_id,
                            status=state_label(run.status).lower(),
                        )
                    )
                _replay(s, [run], with_version, actor_name(s, by))
                s.commit()
                return run

        row = await self.sync(write)
        self._wakeup.notify()
        return row

    async def cancel(self, run_id: str, *, by: Actor = None) -> RunRow:
        """Stop a run that no worker holds: queued (for a worker, a retry, or the end of a
        delay), held, or running under a lease that expired (its worker died: once another
        takes it over, it runs again). It ends ``cancelled``, saying by whom; the steps it ran
        stay as the ledger recorded them, and a step that was waiting or retrying ends
        ``cancelled``. A replay brings it back.

        Raises :class:`Conflict` for a run that a worker is running (its step may be calling
        an app at that moment: ending it there could leave the app changed and the ledger
        silent) or that has ended.
        """

        def write() -> RunRow:
            with self.session(write=True) as s:
                with use_locale(self.locale):
                    # Said in the record's words: the command line has no name of its own.
                    who = _("the command line") if by == COMMAND_LINE else actor_name(s, by)
                    reason = _("cancelled by %(who)s", who=who) if who else _("cancelled")
                cancelled = cancel_runs(s, col(RunRow.id) == run_id, reason)
                run = s.get(RunRow, run_id)
                if run is None:
                    raise NotFound(_("no run %(id)s", id=run_id))
                if not cancelled:
                    raise Conflict(
                        _(
                            "this run cannot be cancelled (its status: %(state)s): only runs "
                            "that are queued, waiting, retrying or held can be",
                            state=state_label(run_state(run)).lower(),
                        )
                    )
                s.commit()
                s.refresh(run)
                return run

        run = await self.sync(write)
        self._metrics.run_finished(RunStatus.CANCELLED)
        return run

    async def replay_failed(
        self,
        flow: str,
        with_version: ReplayWith = ReplayWith.RAN,
        *,
        by: Actor = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        """Replay every failed run of ``flow`` (an id, or a name: see :func:`find_flow`)
        created from ``since`` to before ``until``, as :meth:`replay` does one; return how
        many. After an outage of the app a flow calls, its failed runs go back to work at once.

        Newest first, :data:`_REPLAY_BATCH` runs a transaction, so that other writers wait at
        most one batch; a run that fails again meanwhile is not replayed twice.
        """

        def write() -> int:
            count, before = 0, None
            with self.session() as s:
                flow_id = find_flow(s, flow).id
            while True:
                with self.session(write=True) as s:
                    q = _runs([flow_id], RunStatus.FAILED, _REPLAY_BATCH, before, since, until)
                    batch = list(s.exec(q.with_for_update()))
                    if not batch:
                        return count
                    _replay(s, batch, with_version, actor_name(s, by))
                    s.commit()
                count += len(batch)
                before = batch[-1].id  # newest first: the next batch is older

        count = await self.sync(write)
        if count:
            self._wakeup.notify()
        return count

    async def older_failures(
        self, flow_id: str, since: float | None = None, until: float | None = None
    ) -> int | None:
        """The flow's current version if some of its failed runs created from ``since`` to
        before ``until`` ran an older one (a replay may move them to it), else ``None``."""

        def read() -> int | None:
            with self.session() as s:
                flow = s.get(FlowRow, flow_id)
                if flow is None:
                    return None
                q = _runs([flow_id], RunStatus.FAILED, 1, since=since, until=until)
                older = s.exec(q.where(col(RunRow.flow_version) != flow.version)).first()
            return flow.version if older is not None else None

        return await self.sync(read)

    async def release_held(self, flow_id: str) -> int:
        """Queue every held run of a flow, with its published version; return how many.

        Held runs have not run, or not to their end: what they run is what the flow does now.
        A flow paused by its failures is resumed once a fix is published, and its held runs
        must not meet the broken version again. A run held after some of its steps (queued to
        retry, or parked by a delay, when the flow was paused) goes on from where it was, its
        steps done not run again and its attempts counted on; unlike a replay, no record of
        the version it was created with is kept.
        """

        def write() -> int:
            with self.session(write=True) as s:
                flow = s.get(FlowRow, flow_id)
                if flow is None:
                    raise NotFound(_("no flow %(ref)s", ref=flow_id))
                result = s.exec(
                    update(RunRow)
                    .where(_rare(flow_id, RunStatus.HELD))
                    .values(
                        status=RunStatus.QUEUED,
                        available_at=time.time(),
                        flow_version=flow.version,
                    )
                )
                s.commit()
                return int(result.rowcount)

        released = await self.sync(write)
        if released:
            self._wakeup.notify()
        return released
